"""Run records, the SQLite store that keeps them, and leaderboards rendered from it."""
