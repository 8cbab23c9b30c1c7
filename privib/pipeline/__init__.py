"""One run: the run config, the context stages share, the stages and the runner that records their outcome."""
