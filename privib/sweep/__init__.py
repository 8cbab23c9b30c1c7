"""Many runs, written: sweep specs, their points, the local runner, the summary, the W&B backend."""
