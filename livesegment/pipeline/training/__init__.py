"""Fine-tuning a model on the user's labelled pictures (``livesegment train``, ``train()``)."""

from livesegment.pipeline.training.data import TrainingData
from livesegment.pipeline.training.trainer import (
    TrainConfig, Trainer, TrainProgress, TrainResult, replace_config, run_folder,
)

__all__ = ["TrainConfig", "Trainer", "TrainProgress", "TrainResult", "TrainingData",
           "replace_config", "run_folder"]
