"""territory-kg benchmark suite (issue 6)."""
