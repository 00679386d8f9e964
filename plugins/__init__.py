"""The plugins that ship with perception. Each uses only perception's public names."""
