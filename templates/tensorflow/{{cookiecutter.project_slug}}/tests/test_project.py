"""Fast checks of the project itself: data, model, and that training learns."""

import keras
import numpy as np

from {{ cookiecutter.package_name }} import config, data, model, train


def _setup():
    cfg = config.load_config()
    return cfg, *data.prepare(cfg)


def test_data_is_split_into_train_validation_and_test():
    _, train_split, val_split, test_split, preprocess = _setup()
    sizes = [len(s.y) for s in (train_split, val_split, test_split)]
    assert all(size > 0 for size in sizes)
    assert sizes[0] > sizes[2] > 0
    assert preprocess["n_outputs"] == (len(preprocess["classes"]) or 1)
    assert list(data.inputs(train_split.x[:2], preprocess).shape[1:]) == preprocess["model_input_shape"]


def test_model_output_shape():
    cfg, train_split, _, _, preprocess = _setup()
    net = model.build(preprocess, cfg)
    out = net(data.inputs(train_split.x[:5], preprocess), training=False)
    assert tuple(out.shape) == (5, preprocess["n_outputs"])


def test_short_training_lowers_the_loss():
    cfg, train_split, val_split, _, preprocess = _setup()
    keras.utils.set_random_seed(0)
    net = model.compile_model(model.build(preprocess, cfg), cfg["task"], cfg["train"])
    history = train.fit(
        net,
        data.pipeline(train_split, preprocess, 32, True, 0),
        data.pipeline(val_split, preprocess, 64, False, 0),
        cfg["train"],
        max_steps=40,
        verbose=False,
    )["loss_history"]
    assert np.isfinite(history).all()
    assert history[-1] < history[0]
