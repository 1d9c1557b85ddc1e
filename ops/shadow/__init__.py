"""`python -m ops.shadow`: the shadow rules' alerts against the live ones, per rule, over a period."""
