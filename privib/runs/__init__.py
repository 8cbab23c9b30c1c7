"""The run-folder contract: the folder and its files, the metric-key vocabulary, W&B options and modes."""
from privib.runs.folder import RUN_DIR_ENV, RUN_FOLDER_NAME, STATES, RunFolder, create_run_folder

__all__ = ["RUN_DIR_ENV", "RUN_FOLDER_NAME", "STATES", "RunFolder", "create_run_folder"]
