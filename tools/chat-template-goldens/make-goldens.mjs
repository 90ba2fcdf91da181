// Renders every template of templates.json on a few conversations with @huggingface/jinja (Hugging Face's own
// Jinja engine for chat templates, with trim_blocks and lstrip_blocks as transformers sets them) and writes the
// expected outputs the Serving tests compare against. Run: npm install @huggingface/jinja; node make-goldens.mjs OUT.json
import { Template } from "@huggingface/jinja";
import { readFileSync, writeFileSync } from "node:fs";

const templates = JSON.parse(readFileSync(new URL("./templates.json", import.meta.url)));
const conversations = {
  "system-and-turns": [
    { role: "system", content: "You are a helpful assistant" },
    { role: "user", content: "Hello" },
    { role: "assistant", content: "Hi there" },
    { role: "user", content: "Who are you" },
    { role: "assistant", content: "   I am an assistant   " },
    { role: "user", content: "Another question" },
  ],
  "turns": [
    { role: "user", content: "Hello" },
    { role: "assistant", content: "Hi there" },
    { role: "user", content: "  Tell me a story\nabout a cat.  " },
  ],
  "one-user": [{ role: "user", content: "Once upon a time" }],
  "not-alternating": [{ role: "user", content: "a" }, { role: "user", content: "b" }],
};
const cases = [];
for (const [name, t] of Object.entries(templates)) {
  const template = new Template(t.template);
  for (const [conversation, messages] of Object.entries(conversations))
    for (const add_generation_prompt of [true, false]) {
      const context = { messages, add_generation_prompt };
      if (t.bos_token != null) context.bos_token = t.bos_token;
      if (t.eos_token != null) context.eos_token = t.eos_token;
      let expected = null, error = null;
      try { expected = template.render(context); } catch (e) { error = String(e.message ?? e); }
      cases.push({ template: name, conversation, add_generation_prompt, messages, expected, error });
    }
}
writeFileSync(process.argv[2], JSON.stringify({ oracle: "@huggingface/jinja", templates, cases }, null, 1));
