"""Dead letters: what their headers say, and `python -m ops.deadletters` to list and replay them."""
