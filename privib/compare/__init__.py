"""Many runs, read-only: records from run folders or W&B, the comparison table, Pareto math, plots."""
