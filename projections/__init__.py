"""Read-model logic as pure functions: from a decoded change to the row a table stores."""
