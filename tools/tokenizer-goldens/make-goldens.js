#!/usr/bin/env node
// Extra Hugging Face reference cases for the edge cases of tests/NativeLayers.Tokenizing.Tests (HuggingFaceReferenceTests).
// The oracle is Hugging Face tokenizers itself (npm package "tokenizers", Rust core), installed outside the repo:
//   mkdir -p /tmp/oracle && cd /tmp/oracle && npm install tokenizers
//   NODE_PATH=/tmp/oracle/node_modules node tools/tokenizer-goldens/make-goldens.js ../shared/tokenizers tests/NativeLayers.Tokenizing.Tests/Goldens
// Each tokenizer folder with a tokenizer.json gets Goldens/<folder>.json, made with the same calls as reference.json:
// encode(text, null, {addSpecialTokens: true}) without padding or truncation, decode(ids, false), decode(ids, true).
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

// Each text set gives one golden per tokenizer: Goldens/<name>.json (edge texts) and Goldens/<name>.fuzz.json.
const textSets = [['', require('./edge-texts.json')], ['.fuzz', require('./fuzz-texts.json')]];

async function main() {
  const [root, outDir] = process.argv.slice(2);
  if (!root || !outDir) throw new Error('usage: make-goldens.js SHARED_TOKENIZERS_DIR OUTPUT_DIR');
  fs.mkdirSync(outDir, { recursive: true });
  const pkg = require('tokenizers/package.json');
  for (const [suffix, texts] of textSets) {
    for (const name of fs.readdirSync(root).sort()) {
      const file = path.join(root, name, 'tokenizer.json');
      if (!fs.existsSync(path.join(root, name, 'reference.json'))) continue;
      let tok;
      if (fs.existsSync(file)) {
        tok = Tokenizer.fromFile(file);
      } else if (fs.existsSync(path.join(root, name, 'vocab.txt'))) {
        tok = fromVocabTxt(path.join(root, name));
      } else {
        continue;
      }
      tok.disablePadding();
      tok.disableTruncation();
      const cases = [];
      for (const text of texts) {
        const enc = await tok.encode(text, null, { addSpecialTokens: true });
        const ids = enc.getIds();
        cases.push({ tokenizer: name, text, ids, tokens: enc.getTokens(), decoded: await tok.decode(ids, false), decoded_skip_special: await tok.decode(ids, true) });
      }
      const out = { tokenizer: name, oracle: `huggingface tokenizers ${pkg.version} (npm package tokenizers)`, generator: 'tools/tokenizer-goldens/make-goldens.js', cases };
      fs.writeFileSync(path.join(outDir, name + suffix + '.json'), JSON.stringify(out, null, 1) + '\n');
      console.log(`${name}${suffix}: ${cases.length} cases`);
    }
  }
  // Variants: a real file with some top-level fields replaced and added tokens appended, to reach the pipeline steps
  // that the real files do not use. The golden records the change so that the test builds the same tokenizer.json.
  const os = require('os');
  for (const variant of require('./variants.json')) {
    const json = JSON.parse(fs.readFileSync(path.join(root, variant.base, 'tokenizer.json'), 'utf8'));
    applyVariant(json, variant);
    const tmp = path.join(os.tmpdir(), `variant-${variant.name}-${process.pid}.json`);
    fs.writeFileSync(tmp, JSON.stringify(json));
    const tok = Tokenizer.fromFile(tmp);
    fs.unlinkSync(tmp);
    tok.disablePadding();
    tok.disableTruncation();
    const cases = [];
    for (const text of textSets[0][1]) {
      const enc = await tok.encode(text, null, { addSpecialTokens: true });
      const ids = enc.getIds();
      cases.push({ tokenizer: variant.base, text, ids, tokens: enc.getTokens(), decoded: await tok.decode(ids, false), decoded_skip_special: await tok.decode(ids, true) });
    }
    const out = { tokenizer: variant.base, variant, oracle: `huggingface tokenizers ${pkg.version} (npm package tokenizers)`, generator: 'tools/tokenizer-goldens/make-goldens.js', cases };
    fs.writeFileSync(path.join(outDir, `variant-${variant.name}.json`), JSON.stringify(out, null, 1) + '\n');
    console.log(`variant ${variant.name}: ${cases.length} cases`);
  }
}

// A BERT vocab.txt as transformers' BertTokenizerFast turns it into a tokenizer.json (do_lower_case from tokenizer_config.json).
function fromVocabTxt(dir) {
  const os = require('os');
  const lines = fs.readFileSync(path.join(dir, 'vocab.txt'), 'utf8').split('\n').map(l => l.replace(/\r$/, ''));
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const vocab = {};
  lines.forEach((token, id) => { if (!(token in vocab)) vocab[token] = id; });
  const configFile = path.join(dir, 'tokenizer_config.json');
  const config = fs.existsSync(configFile) ? JSON.parse(fs.readFileSync(configFile, 'utf8')) : {};
  const lower = config.do_lower_case !== undefined ? config.do_lower_case : true;
  const added = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].filter(t => t in vocab).sort((a, b) => vocab[a] - vocab[b])
    .map(t => ({ id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const json = {
    version: '1.0', truncation: null, padding: null, added_tokens: added,
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: config.tokenize_chinese_chars !== false, strip_accents: config.strip_accents ?? null, lowercase: lower },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [vocab['[CLS]']], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [vocab['[SEP]']], tokens: ['[SEP]'] } } },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  const tmp = path.join(os.tmpdir(), `vocab-txt-${process.pid}.json`);
  fs.writeFileSync(tmp, JSON.stringify(json));
  const tok = Tokenizer.fromFile(tmp);
  fs.unlinkSync(tmp);
  return tok;
}

function applyVariant(json, variant) {
  for (const [key, value] of Object.entries(variant.set || {})) json[key] = value;
  for (const [key, value] of Object.entries(variant.set_model || {})) json.model[key] = value;
  for (const token of variant.added || []) json.added_tokens.push(token);
}

if (require.main === module) main().catch(e => { console.error(e.message); process.exit(1); });
module.exports = { fromVocabTxt };
