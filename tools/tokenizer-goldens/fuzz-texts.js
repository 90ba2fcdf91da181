#!/usr/bin/env node
// Writes fuzz-texts.json: deterministic random texts (seeded) mixing scripts, marks, digits, punctuation, whitespace
// runs, emoji, format characters and the added tokens of the reference tokenizers, for make-goldens.js.
const fs = require('fs');
const path = require('path');

let seed = 20261201;
function rand() { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; }
function pick(list) { return list[Math.floor(rand() * list.length)]; }

const pieces = [
  'the', 'Hello', 'WORLD', 'naïve', 'Café', 'ﬁne', 'Ǆ', 'İ', 'ß', 'Σσς', 'ǅ', 'Ω', 'Å', 'e\u0301', 'n\u0303', 'a\u0308\u0304',
  '日本', '東京', 'の', 'カタカナ', 'ｶﾀｶﾅ', '한국', '\u1100\u1161', 'Привет', 'مرحبا', 'שלום', 'नमस्ते', 'ज़', 'สวัสดี', 'ก่', 'ক্ষ',
  '𝐀𝐁', '𠀀', '𝟙', '😀', '👍🏽', '👨\u200d👩\u200d👧', '🇫🇷', '🏳️\u200d🌈', '\u200b', '\u200d', '\ufeff', '\u00ad', '\u2060',
  '0', '7', '42', '123', '4567', '3.14', '1,000', '١٢', '²', '½', 'Ⅻ', '⑤',
  '.', ',', '!', '?', "'", "'s", "'LL", '"', '(', ')', '[', ']', '{', '}', '<', '>', '/', '\\', '|', '$', '^', '~', '`', '+', '=', '-', '_', '#', '@', '&', '*', '%', '…', '—', '«', '»', '€',
  ' ', ' ', ' ', '  ', '   ', '\t', '\n', '\r\n', '\u00a0', '\u3000', '\u2003', '\u2028', '\u0085',
  '<s>', '</s>', '<unk>', '<pad>', '<mask>', '[CLS]', '[SEP]', '[MASK]', '[UNK]', '<|endoftext|>', '<|startoftext|>', '<|user|>', '<|end|>', '<|assistant|>', '>>TITLE<<', '<extra_id_0>', '<0x41>', '▁', 'Ġ', '##ing', '</w>',
];

const texts = [];
for (let i = 0; i < 120; i++) {
  const n = 1 + Math.floor(rand() * 12);
  let text = '';
  for (let k = 0; k < n; k++) text += pick(pieces);
  texts.push(text);
}
fs.writeFileSync(path.join(__dirname, 'fuzz-texts.json'), JSON.stringify(texts, null, 1) + '\n');
console.log(`${texts.length} texts`);
