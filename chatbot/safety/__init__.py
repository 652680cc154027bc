"""Safety: the risk a message carries, judged before any answer.

Enters: the message and its e5 query vectors (the ones retrieval uses anyway).
Leaves: an `Assessment` (`detector.py`): the risk categories found (suicide, emergency,
personal treatment decision), the most serious first, which are certain (fixed message) or
only possible (a notice under the answer), and injected instructions cut out.
The knowledge is the profile's: profile/safety/patterns.tsv and detector.json (read by
`linear.py`; fitted by `fit.py`, `chatbot safety fit`, from the labelled bank).
Must not import: answer, serve (detector.py); fit.py may read question files (evaluation).
"""
