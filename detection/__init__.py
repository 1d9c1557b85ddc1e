"""Complex event processing rules as pure functions: history and a new event in, alerts out."""
