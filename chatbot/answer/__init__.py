"""Answer: from a question and the index to the cited answer.

Enters: the question (and the conversation), the `Index`, the query vector.
Steps, in order: retrieve (passages: dense, BM25, best sentence, fused) -> rank (sentences,
a logistic model of the profile) -> support (do they answer what was asked? the refusal,
calibrated for the index) -> extract (quotes with `[n]`), or generate + verify (an
OpenAI-compatible server, every sentence checked against its passage). A question about who
wrote a document is answered by the document's own author line instead (byline).
Leaves: an `Answer` with its `Citation`s (chatbot/records.py).
Must not import: serve, evaluation, build (the engine in chatbot/engine.py calls this one).
"""
