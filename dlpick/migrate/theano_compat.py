"""Theano APIs that PyTensor removed, rebuilt on PyTensor with Theano's semantics (written by `dlpick migrate
theano`; copied beside the modules that use it, never imported by dlpick itself).

- conv2d keeps Theano's default filter_flip=True: a true convolution (the kernel is flipped), unlike
  PyTorch's and Caffe's cross-correlation; pass filter_flip=False for those. Groups and unshared
  filters are not rebuilt (NotImplementedError).
- pool_2d keeps Theano's modes (max, sum, average_inc_pad, average_exc_pad), its padding and its
  ignore_border rule (False: a partial window at the end of a row or column still counts).
- softmax / logsoftmax work on the last axis, as Theano's did on the rows of a matrix.
- ultra_fast_sigmoid is the exact sigmoid here (Theano's was an approximation); hard_sigmoid is exact.
Both conv2d and pool_2d run as shifted views (one per kernel position) and one reduction: correct on
any back end, but not a tuned convolution; check the speed of a large model.
"""

from __future__ import annotations

import pytensor.tensor as pt
from pytensor.tensor import special

sigmoid = pt.sigmoid
softplus = pt.softplus


def softmax(x):
    return special.softmax(x, axis=-1)


def logsoftmax(x):
    return special.log_softmax(x, axis=-1)


def relu(x, alpha=0):
    """Theano's relu: max(x, 0), or max(x, alpha * x) for a leaky slope alpha."""
    if alpha == 0:
        return pt.maximum(x, 0)
    return pt.switch(x > 0, x, alpha * x)


def ultra_fast_sigmoid(x):
    return pt.sigmoid(x)


def hard_sigmoid(x):
    return pt.clip(0.2 * x + 0.5, 0, 1)


def categorical_crossentropy(coding_dist, true_dist):
    """-sum(true * log(coding)) per row, or -log(coding[i, label_i]) for integer labels (Theano's)."""
    if true_dist.ndim == coding_dist.ndim:
        return -pt.sum(true_dist * pt.log(coding_dist), axis=coding_dist.ndim - 1)
    return -pt.log(coding_dist[pt.arange(true_dist.shape[0]), true_dist])


def binary_crossentropy(output, target):
    return -(target * pt.log(output) + (1.0 - target) * pt.log(1.0 - output))


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _kernel_size(filters, filter_shape):
    if filter_shape is not None and all(isinstance(d, int) for d in filter_shape[-2:]):
        return tuple(filter_shape[-2:])
    static = getattr(filters.type, "shape", None)
    if static is not None and all(isinstance(d, int) for d in static[-2:]):
        return tuple(static[-2:])
    try:
        return tuple(filters.get_value().shape[-2:])  # a shared variable
    except AttributeError:
        pass
    try:
        return tuple(int(pt.get_underlying_scalar_constant_value(filters.shape[i])) for i in (2, 3))
    except Exception:
        return None  # known only when the graph runs


def _pad(x, top, bottom, left, right, value=0.0):
    if all(isinstance(v, int) and v == 0 for v in (top, bottom, left, right)):
        return x
    shape = (x.shape[0], x.shape[1], x.shape[2] + top + bottom, x.shape[3] + left + right)
    out = pt.alloc(pt.cast(value, x.dtype), *shape)
    return pt.set_subtensor(out[:, :, top : top + x.shape[2], left : left + x.shape[3]], x)


def _windows(x, kernel, stride, dilation, out_rows, out_cols):
    """(N, C, kh*kw, out_rows, out_cols): the input under each kernel position."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    views = []
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + (out_rows - 1) * sh + 1, sh)
            cols = slice(j * dw, j * dw + (out_cols - 1) * sw + 1, sw)
            views.append(x[:, :, rows, cols])
    return pt.stack(views, axis=2)


def conv2d(
    input,
    filters,
    input_shape=None,
    filter_shape=None,
    border_mode="valid",
    subsample=(1, 1),
    filter_flip=True,
    image_shape=None,
    filter_dilation=(1, 1),
    num_groups=1,
    unshared=False,
    **kwargs,
):
    """Theano's theano.tensor.nnet.conv2d (input (N, C, H, W), filters (O, C, kh, kw))."""
    if num_groups != 1 or unshared:
        raise NotImplementedError("conv2d: num_groups and unshared are not rebuilt for PyTensor")
    kernel = _kernel_size(filters, filter_shape)
    if kernel is None:
        return _conv2d_any_kernel(input, filters, border_mode, subsample, filter_flip, filter_dilation)
    kh, kw = kernel
    (sh, sw), (dh, dw) = _pair(subsample), _pair(filter_dilation)
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if border_mode == "valid":
        ph, pw = 0, 0
    elif border_mode == "full":
        ph, pw = eh - 1, ew - 1
    elif border_mode == "half":
        ph, pw = eh // 2, ew // 2
    else:
        ph, pw = _pair(border_mode)
    if filter_flip:
        filters = filters[:, :, ::-1, ::-1]
    x = _pad(input, ph, ph, pw, pw)
    rows = (input.shape[2] + 2 * ph - eh) // sh + 1
    cols = (input.shape[3] + 2 * pw - ew) // sw + 1
    patches = _windows(x, (kh, kw), (sh, sw), (dh, dw), rows, cols)
    kernels = filters.reshape((filters.shape[0], filters.shape[1], kh * kw))
    out = pt.tensordot(patches, kernels, axes=[[1, 2], [1, 2]])  # (N, rows, cols, O)
    return out.dimshuffle(0, 3, 1, 2)


def _conv2d_any_kernel(input, filters, border_mode, subsample, filter_flip, filter_dilation):
    """conv2d for a kernel whose size is known only at run time: PyTensor's convolve2d (a true
    convolution, as Theano's default) per input channel, summed; slower than the shifted views."""
    from pytensor.tensor.signal import convolve2d

    (sh, sw), (dh, dw) = _pair(subsample), _pair(filter_dilation)
    if (dh, dw) != (1, 1):
        rows, cols = (filters.shape[2] - 1) * dh + 1, (filters.shape[3] - 1) * dw + 1
        dilated = pt.zeros((filters.shape[0], filters.shape[1], rows, cols), dtype=filters.dtype)
        filters = pt.set_subtensor(dilated[:, :, ::dh, ::dw], filters)
    if not filter_flip:  # cross-correlation: convolve2d flips the kernel, so flip it first
        filters = filters[:, :, ::-1, ::-1]
    mode, x = "valid", input
    if border_mode == "full":
        mode = "full"
    elif border_mode == "half":
        x = _pad(input, filters.shape[2] // 2, filters.shape[2] // 2, filters.shape[3] // 2, filters.shape[3] // 2)
    elif border_mode != "valid":
        ph, pw = _pair(border_mode)
        x = _pad(input, ph, ph, pw, pw)
    out = convolve2d(x.dimshuffle(0, "x", 1, 2, 3), filters.dimshuffle("x", 0, 1, 2, 3), mode=mode).sum(axis=2)
    return out[:, :, ::sh, ::sw] if (sh, sw) != (1, 1) else out


def _pool_size(length, window, stride, pad, ignore_border):
    if ignore_border:
        return (length + 2 * pad - window) // stride + 1
    if stride >= window:
        return (length - 1) // stride + 1
    return pt.maximum(0, (length - 1 - window + stride) // stride) + 1


def pool_2d(input, ws=None, ignore_border=None, stride=None, pad=(0, 0), mode="max", ds=None, st=None, padding=None):
    """Theano's theano.tensor.signal.pool.pool_2d over the last two axes (4-D input)."""
    ws = _pair(ws if ws is not None else ds)
    stride = _pair(stride if stride is not None else st if st is not None else ws)
    pad = _pair(padding if padding is not None else pad)
    ignore_border = bool(ignore_border)
    if (pad[0] or pad[1]) and not ignore_border:
        raise NotImplementedError("pool_2d: padding needs ignore_border=True (as in Theano)")
    rows = _pool_size(input.shape[2], ws[0], stride[0], pad[0], ignore_border)
    cols = _pool_size(input.shape[3], ws[1], stride[1], pad[1], ignore_border)
    # Rows and columns a partial window reads past the (padded) input: filled, then left out of averages.
    extra_r = pt.maximum(0, (rows - 1) * stride[0] + ws[0] - (input.shape[2] + 2 * pad[0]))
    extra_c = pt.maximum(0, (cols - 1) * stride[1] + ws[1] - (input.shape[3] + 2 * pad[1]))
    fill = -float("inf") if mode == "max" else 0.0
    x = _pad(input, pad[0], pad[0] + extra_r, pad[1], pad[1] + extra_c, fill)
    windows = _windows(x, ws, stride, (1, 1), rows, cols)
    if mode == "max":
        return windows.max(axis=2)
    total = windows.sum(axis=2)
    if mode == "sum":
        return total
    ones = pt.ones_like(input)
    if mode == "average_inc_pad":
        mask = _pad(_pad(ones, pad[0], pad[0], pad[1], pad[1], 1.0), 0, extra_r, 0, extra_c)
    elif mode == "average_exc_pad":
        mask = _pad(ones, pad[0], pad[0] + extra_r, pad[1], pad[1] + extra_c)
    else:
        raise ValueError(f"pool_2d: unknown mode {mode!r}")
    return total / _windows(mask, ws, stride, (1, 1), rows, cols).sum(axis=2)
