"""The core every layer may use: settings, user-facing errors, shared schemas, Amazon's marketplaces."""
