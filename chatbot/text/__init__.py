"""Text: the French normalisation every stage shares.

Enters: raw text (a question, a passage, a word list of the profile).
Leaves: folded forms and word stems (`normalize`), cleaned input (`sanitize`), the profile's
word lists (`normalize.read_table`: stop words, SMS spellings, the lay lexicon), sentences
with their offsets (`sentences`), phone-typed variants for fitting (`augment`).
Must not import: any other subpackage of chatbot (every stage imports this one).
"""
