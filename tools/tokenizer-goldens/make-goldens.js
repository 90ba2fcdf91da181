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

const texts = require('./edge-texts.json');

async function main() {
  const [root, outDir] = process.argv.slice(2);
  if (!root || !outDir) throw new Error('usage: make-goldens.js SHARED_TOKENIZERS_DIR OUTPUT_DIR');
  fs.mkdirSync(outDir, { recursive: true });
  const pkg = require('tokenizers/package.json');
  for (const name of fs.readdirSync(root).sort()) {
    const file = path.join(root, name, 'tokenizer.json');
    if (!fs.existsSync(file) || !fs.existsSync(path.join(root, name, 'reference.json'))) continue;
    const tok = Tokenizer.fromFile(file);
    tok.disablePadding();
    tok.disableTruncation();
    const cases = [];
    for (const text of texts) {
      const enc = await tok.encode(text, null, { addSpecialTokens: true });
      const ids = enc.getIds();
      cases.push({ tokenizer: name, text, ids, tokens: enc.getTokens(), decoded: await tok.decode(ids, false), decoded_skip_special: await tok.decode(ids, true) });
    }
    const out = { tokenizer: name, oracle: `huggingface tokenizers ${pkg.version} (npm package tokenizers)`, generator: 'tools/tokenizer-goldens/make-goldens.js', cases };
    fs.writeFileSync(path.join(outDir, name + '.json'), JSON.stringify(out, null, 1) + '\n');
    console.log(`${name}: ${cases.length} cases`);
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
    for (const text of texts) {
      const enc = await tok.encode(text, null, { addSpecialTokens: true });
      const ids = enc.getIds();
      cases.push({ tokenizer: variant.base, text, ids, tokens: enc.getTokens(), decoded: await tok.decode(ids, false), decoded_skip_special: await tok.decode(ids, true) });
    }
    const out = { tokenizer: variant.base, variant, oracle: `huggingface tokenizers ${pkg.version} (npm package tokenizers)`, generator: 'tools/tokenizer-goldens/make-goldens.js', cases };
    fs.writeFileSync(path.join(outDir, `variant-${variant.name}.json`), JSON.stringify(out, null, 1) + '\n');
    console.log(`variant ${variant.name}: ${cases.length} cases`);
  }
}

function applyVariant(json, variant) {
  for (const [key, value] of Object.entries(variant.set || {})) json[key] = value;
  for (const token of variant.added || []) json.added_tokens.push(token);
}

main().catch(e => { console.error(e.message); process.exit(1); });
