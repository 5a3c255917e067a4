"""Resolution 71/NQ-CP database tracker: the one package the DAGs, the CLI and the tests share."""
