{% raw %}"""Data for PyTorch: the shared numpy loaders, wrapped as tensors and data loaders."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from . import datasets


def prepare(config: dict) -> tuple[datasets.Dataset, datasets.Dataset, datasets.Dataset, dict]:
    """Load, split (seeded) and describe the data: the `preprocess` dict rebuilds inputs later."""
    data = config["data"]
    dataset = datasets.load(config["task"], data)
    train, val, test = datasets.split(dataset, data["test_size"], data["val_size"], config["seed"])
    preprocess = {
        "task": config["task"],
        "classes": dataset.classes,
        "feature_names": dataset.feature_names,
        "vocabulary": dataset.vocabulary,
        "stats": datasets.fit_scaler(train),
        "input_shape": list(dataset.x.shape[1:]),
        "n_outputs": len(dataset.classes) or 1,
    }
    return train, val, test, preprocess


def inputs(x: np.ndarray, preprocess: dict) -> torch.Tensor:
    """Model inputs from raw features: scaled floats, or token ids for text (datasets.model_inputs)."""
    return torch.as_tensor(datasets.model_inputs(x, preprocess))


def targets(y: np.ndarray, preprocess: dict) -> torch.Tensor:
    if preprocess["task"] == "tabular-regression":
        return torch.as_tensor(datasets.scale_target(y, preprocess["stats"]), dtype=torch.float32)
    return torch.as_tensor(y, dtype=torch.long)


def loader(
    split: datasets.Dataset, preprocess: dict, batch_size: int, shuffle: bool, seed: int, distributed: bool = False
) -> DataLoader:
    tensors = TensorDataset(inputs(split.x, preprocess), targets(split.y, preprocess))
    if distributed:  # each process sees its own shard; the sampler shuffles with the seed
        sampler = DistributedSampler(tensors, shuffle=shuffle, seed=seed)
        return DataLoader(tensors, batch_size=batch_size, sampler=sampler)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(tensors, batch_size=batch_size, shuffle=shuffle, generator=generator){% endraw %}
