"""Direct references for convolution and pooling: SciPy correlations and plain loops.

Written independently of ``nbgrad.tensor.conv`` and ``nbgrad.tensor.signal.pool``
(no window views, no tensordot) so that tests compare two different computations.
"""

import numpy as np
import scipy.signal

__all__ = ["conv2d", "conv2d_grad_inputs", "conv2d_grad_weights", "pool_2d", "max_pool_grad",
           "max_pool_grad_grad", "average_pool_grad"]


def _pads(border_mode, kh, kw, dil):
    if border_mode == "valid":
        return 0, 0
    if border_mode == "full":
        return (kh - 1) * dil[0], (kw - 1) * dil[1]
    if border_mode == "half":
        return (kh // 2) * dil[0], (kw // 2) * dil[1]
    if isinstance(border_mode, int):
        return border_mode, border_mode
    return tuple(border_mode)


def _dilate(k, dil):
    out = np.zeros(((k.shape[0] - 1) * dil[0] + 1, (k.shape[1] - 1) * dil[1] + 1), dtype=k.dtype)
    out[::dil[0], ::dil[1]] = k
    return out


def conv2d(x, w, border_mode="valid", subsample=(1, 1), filter_flip=True, filter_dilation=(1, 1)):
    """Σ_c scipy.signal.convolve2d/correlate2d of each image channel with each filter."""
    ph, pw = _pads(border_mode, w.shape[2], w.shape[3], filter_dilation)
    xp = np.pad(x.astype("float64"), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    rows = []
    for n in range(x.shape[0]):
        chans = []
        for o in range(w.shape[0]):
            acc = 0.0
            for c in range(x.shape[1]):
                k = _dilate(w[o, c].astype("float64"), filter_dilation)
                f = scipy.signal.convolve2d if filter_flip else scipy.signal.correlate2d
                acc = acc + f(xp[n, c], k, mode="valid")
            chans.append(acc[::subsample[0], ::subsample[1]])
        rows.append(chans)
    return np.array(rows).astype(np.result_type(x, w))


def _filters(w, filter_flip):
    return w[:, :, ::-1, ::-1] if filter_flip else w


def conv2d_grad_inputs(w, g, shape, border_mode="valid", subsample=(1, 1), filter_flip=True,
                       filter_dilation=(1, 1)):
    """x̄[n, c, i·s + a·d − pad] += g[n, o, i] · W'[o, c, a], by loops over output and filter positions."""
    h, wd = shape
    kh, kw = w.shape[2:]
    ph, pw = _pads(border_mode, kh, kw, filter_dilation)
    wf = _filters(w, filter_flip).astype("float64")
    out = np.zeros((g.shape[0], w.shape[1], h + 2 * ph + kh * filter_dilation[0],
                    wd + 2 * pw + kw * filter_dilation[1]))
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            for a in range(kh):
                for b in range(kw):
                    r, c = i * subsample[0] + a * filter_dilation[0], j * subsample[1] + b * filter_dilation[1]
                    out[:, :, r, c] += g[:, :, i, j] @ wf[:, :, a, b]
    return out[:, :, ph:ph + h, pw:pw + wd].astype(np.result_type(w, g))


def conv2d_grad_weights(x, g, shape, border_mode="valid", subsample=(1, 1), filter_flip=True,
                        filter_dilation=(1, 1)):
    """W̄'[o, c, a] = Σ_{n,i} g[n, o, i] · xpad[n, c, i·s + a·d], by loops over filter positions."""
    kh, kw = shape
    ph, pw = _pads(border_mode, kh, kw, filter_dilation)
    xp = np.pad(x.astype("float64"), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = g.shape[2:]
    gw = np.zeros((g.shape[1], x.shape[1], kh, kw))
    for a in range(kh):
        for b in range(kw):
            r0, c0 = a * filter_dilation[0], b * filter_dilation[1]
            patch = xp[:, :, r0:r0 + (oh - 1) * subsample[0] + 1:subsample[0],
                       c0:c0 + (ow - 1) * subsample[1] + 1:subsample[1]]
            gw[:, :, a, b] = np.einsum("noij,ncij->oc", g, patch)
    return _filters(gw, filter_flip).astype(np.result_type(x, g))


def _out_len(r, w, s, ignore_border):
    if ignore_border:
        return max(0, (r - w) // s + 1)
    if s >= w:
        return (r - 1) // s + 1
    return max(0, (r - 1 - w + s) // s) + 1


def _pool_windows(shape, ws, ignore_border, stride, pad):
    """Yield (i, j, row slice, column slice) of each window on the padded input."""
    stride = stride or ws
    r, c = shape[-2] + 2 * pad[0], shape[-1] + 2 * pad[1]
    for i in range(_out_len(r, ws[0], stride[0], ignore_border)):
        for j in range(_out_len(c, ws[1], stride[1], ignore_border)):
            yield (i, j, slice(i * stride[0], min(i * stride[0] + ws[0], r)),
                   slice(j * stride[1], min(j * stride[1] + ws[1], c)))


def _out_shape(x, ws, ignore_border, stride, pad):
    stride = stride or ws
    return x.shape[:-2] + tuple(_out_len(x.shape[k] + 2 * pad[k], ws[k], stride[k], ignore_border)
                                for k in (-2, -1))


def _padded(x, pad, fill):
    widths = [(0, 0)] * (x.ndim - 2) + [(pad[0], pad[0]), (pad[1], pad[1])]
    return np.pad(x.astype("float64"), widths, constant_values=fill)


def pool_2d(x, ws, ignore_border=True, stride=None, pad=(0, 0), mode="max"):
    """Each window's max, sum or mean, by a loop over windows."""
    xp = _padded(x, pad, np.nan)
    out = np.zeros(_out_shape(x, ws, ignore_border, stride, pad))
    for i, j, rs, cs in _pool_windows(x.shape, ws, ignore_border, stride, pad):
        blk = xp[..., rs, cs].reshape(*x.shape[:-2], -1)
        real = ~np.isnan(blk)
        vals = np.where(real, blk, 0.0)
        if mode == "max":
            out[..., i, j] = np.where(real, blk, -np.inf).max(axis=-1)
        elif mode == "sum":
            out[..., i, j] = vals.sum(axis=-1)
        elif mode == "average_inc_pad":
            out[..., i, j] = vals.sum(axis=-1) / blk.shape[-1]
        else:
            out[..., i, j] = vals.sum(axis=-1) / real.sum(axis=-1)
    return out.astype(x.dtype)


def max_pool_grad(x, g, ws, ignore_border=True, stride=None, pad=(0, 0)):
    """g of each window added to the window's entries equal to its maximum."""
    y = pool_2d(x, ws, ignore_border, stride, pad, "max").astype("float64")
    xp = _padded(x, pad, -np.inf)
    gx = np.zeros(xp.shape)
    for i, j, rs, cs in _pool_windows(x.shape, ws, ignore_border, stride, pad):
        gx[..., rs, cs] += (xp[..., rs, cs] == y[..., i, j, None, None]) * g[..., i, j, None, None]
    return gx[..., pad[0]:pad[0] + x.shape[-2], pad[1]:pad[1] + x.shape[-1]].astype(x.dtype)


def max_pool_grad_grad(x, h, ws, ignore_border=True, stride=None, pad=(0, 0)):
    """For each window, the sum of h over the entries equal to the window's maximum."""
    y = pool_2d(x, ws, ignore_border, stride, pad, "max").astype("float64")
    xp, hp = _padded(x, pad, -np.inf), _padded(h, pad, 0.0)
    out = np.zeros(y.shape)
    for i, j, rs, cs in _pool_windows(x.shape, ws, ignore_border, stride, pad):
        out[..., i, j] = ((xp[..., rs, cs] == y[..., i, j, None, None]) * hp[..., rs, cs]).sum(axis=(-2, -1))
    return out.astype(x.dtype)


def average_pool_grad(shape, g, ws, ignore_border=True, stride=None, pad=(0, 0), mode="average_inc_pad"):
    """g of each window (divided by the window's count for averages) spread over the window."""
    mask = _padded(np.ones(shape), pad, np.nan)
    gx = np.zeros(mask.shape)
    for i, j, rs, cs in _pool_windows(shape, ws, ignore_border, stride, pad):
        blk = mask[..., rs, cs]
        n = {"sum": 1, "average_inc_pad": blk[(0,) * (len(shape) - 2)].size,
             "average_exc_pad": (~np.isnan(blk[(0,) * (len(shape) - 2)])).sum()}[mode]
        gx[..., rs, cs] += g[..., i, j, None, None] / n
    return gx[..., pad[0]:pad[0] + shape[-2], pad[1]:pad[1] + shape[-1]].astype(g.dtype)
