// Ask the chatbot from Node with Gradio's JS client (npm install @gradio/client).
//   node examples/gradio_client.mjs http://127.0.0.1:7860 "la biotine est-elle efficace ?"
// The endpoint /ask returns the same record as POST /api/ask (the shared result format).
import { Client } from "@gradio/client";

const [url = "http://127.0.0.1:7860", question = "Quels sont les effets secondaires de l'ocrelizumab ?"] =
  process.argv.slice(2);
const client = await Client.connect(url);
const result = await client.predict("/ask", { question, history: [] });
const record = result.data[0];
console.log(record.answer);
for (const c of record.citations) console.log(`[${c.n}] ${c.title} — ${c.source}`);
