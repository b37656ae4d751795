"""First-party dafw plugins: backbones, relational modules, aligners and datasets."""
