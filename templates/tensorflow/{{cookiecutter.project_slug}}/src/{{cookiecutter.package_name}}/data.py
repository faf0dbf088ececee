{% raw %}"""Data for TensorFlow: the shared numpy loaders, turned into model inputs and tf.data pipelines."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from . import datasets


def describe(dataset: datasets.Dataset, train: datasets.Dataset) -> dict:
    """What rebuilds the model's inputs later (saved as preprocess.json): scaling fitted on `train`."""
    preprocess = {
        "task": dataset.task,
        "classes": dataset.classes,
        "feature_names": dataset.feature_names,
        "vocabulary": dataset.vocabulary,
        "stats": datasets.fit_scaler(train),
        "input_shape": list(dataset.x.shape[1:]),  # as loaded: images channels-first (1, H, W)
        "n_outputs": len(dataset.classes) or 1,
    }
    # Keras convolutions want channels last, so the model (and its exports) take (H, W, 1).
    preprocess["model_input_shape"] = list(inputs(dataset.x[:1], preprocess).shape[1:])
    return preprocess


def prepare(config: dict) -> tuple[datasets.Dataset, datasets.Dataset, datasets.Dataset, dict]:
    """Load, split (seeded) and describe the data."""
    data = config["data"]
    dataset = datasets.load(config["task"], data)
    train, val, test = datasets.split(dataset, data["test_size"], data["val_size"], config["seed"])
    return train, val, test, describe(dataset, train)


def inputs(x: np.ndarray, preprocess: dict) -> np.ndarray:
    """Model inputs from raw features: scaled floats, channels-last images, or int32 token ids."""
    task = preprocess["task"]
    if task == "text-classification":
        return x.astype(np.int32)
    if task == "image-classification":
        return np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)), dtype=np.float32)
    return datasets.scale(x, preprocess["stats"])


def targets(y: np.ndarray, preprocess: dict) -> np.ndarray:
    if preprocess["task"] == "tabular-regression":
        # A column, like the model's output: (N, 1).
        return datasets.scale_target(y, preprocess["stats"]).reshape(-1, 1)
    return y.astype(np.int32)


def pipeline(split: datasets.Dataset, preprocess: dict, batch_size: int, shuffle: bool, seed: int) -> tf.data.Dataset:
    """Batches of (inputs, targets); `batch_size` is global (split across replicas by tf.distribute)."""
    data = tf.data.Dataset.from_tensor_slices((inputs(split.x, preprocess), targets(split.y, preprocess)))
    if shuffle:
        data = data.shuffle(len(split.y), seed=seed, reshuffle_each_iteration=True)
    options = tf.data.Options()
    # In-memory tensors have no files to shard by: multi-worker training shards the examples.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE).with_options(options){% endraw %}
