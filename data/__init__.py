"""Data shipped with techmatch: vocabularies and taxonomy (vocab/) and the demo catalogue (demo/); installed as the
package `matcher.data` and read through importlib.resources (matcher.settings)."""
