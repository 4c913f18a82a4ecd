"""techmatch package."""
