"""Evaluation: question files, metrics, reports, and fitting what the engine learns.

Enters: question files in the shared format (../shared/EVAL_FORMAT.md), the `Engine`, PIAF.
Leaves: result files, metrics (dev and test side by side), HTML/Markdown reports, CI floors
(eval/floors.json), and the profile's fitted weights: the sentence ranker, the refusal
calibration (`fitting.py`).
Must not import: serve. Nothing in the answering path imports this one.
"""
