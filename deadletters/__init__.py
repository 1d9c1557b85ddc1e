"""Dead letters: what their headers say, and `python -m deadletters` to list and replay them."""
