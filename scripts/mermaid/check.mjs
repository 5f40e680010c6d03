// check.mjs reads Markdown on stdin and runs mermaid's own parser (mermaid.parse) on every ```mermaid
// block in it. Exit 0: every block parses; 1: one does not (the parser's message on stderr); 2: no
// block at all. mermaid needs a DOM even to parse (it sanitizes text with DOMPurify), so jsdom's
// window is made global first and only then are dompurify and mermaid imported: a DOMPurify loaded
// before the window exists has no addHook, and mermaid fails on the first title it sanitizes.
import { JSDOM } from "jsdom";

const { window } = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = window;
globalThis.document = window.document;
for (const k of ["Element", "HTMLElement", "SVGElement", "Node", "navigator"]) {
  if (!(k in globalThis)) globalThis[k] = window[k];
}

const { default: createDOMPurify } = await import("dompurify");
globalThis.DOMPurify = createDOMPurify(window);
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

let text = "";
for await (const chunk of process.stdin) text += chunk;
const blocks = [...text.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
if (blocks.length === 0) {
  console.error("no ```mermaid block in the input");
  process.exit(2);
}
for (const [i, b] of blocks.entries()) {
  try {
    const r = await mermaid.parse(b);
    console.log(`block ${i + 1}: ${r.diagramType}`);
  } catch (e) {
    console.error(`block ${i + 1}: ${e.message ?? e}`);
    process.exit(1);
  }
}
