"""`python -m ops.backtest`: run a rule catalogue over the transactions topic's history, apart from the workers."""
