"""The six words of good data, one module per word: each exposes WORD and build_suites(context).

Each suite checks one relation and is named `<word>.<layer>.<dataset>` (STYLE item 19's
`<layer>.<dataset>`, prefixed with its word: a word is a suite group). Every expectation carries
`notes` (why, for auditors, shown in the quality run pages) and `meta` with its word and bar.
"""
