"""Occlusion-mask propagation implements the paper's rule exactly, on every path."""

import pytest
import torch

from engine.dvg import propagate_guided, propagate_masks, upsample_fields


def _expected(own, masks, flows, confs):
    """The rule written out pixel by pixel: own OR sum_k m^k(round(p + w_k(p))) * C_k(p) >= 1."""
    _, _, h, w = own.shape
    out = own.clone()
    for y in range(h):
        for x in range(w):
            total = 0.0
            for mask, flow, conf in zip(masks, flows, confs, strict=True):
                qx = int(torch.floor(torch.tensor(x + float(flow[0, 0, y, x]) + 0.5, dtype=torch.float64)))
                qy = int(torch.floor(torch.tensor(y + float(flow[0, 1, y, x]) + 0.5, dtype=torch.float64)))
                if 0 <= qx < w and 0 <= qy < h and bool(mask[0, 0, qy, qx]):
                    total += float(conf[0, 0, y, x])
            out[0, 0, y, x] |= total >= 1.0
    return out


def _hand_made():
    """4 x 6 frame, neighbours t-1 and t+1 with known masks, flows and confidences."""
    h, w = 4, 6
    own = torch.zeros((1, 1, h, w), dtype=torch.bool)
    own[0, 0, 0, 0] = True
    prev_mask = torch.zeros_like(own)
    prev_mask[0, 0, 1, 2] = True
    prev_mask[0, 0, 3, 5] = True
    next_mask = torch.zeros_like(own)
    next_mask[0, 0, 1, 3] = True
    next_mask[0, 0, 3, 5] = True
    prev_flow = torch.zeros((1, 2, h, w))
    prev_flow[:, 0] = 1.0  # everything moves one pixel right in t-1
    prev_flow[0, 0, 3, 3] = 1.49  # rounds to +1: (3, 4) is no hole
    prev_flow[0, 0, 3, 4] = 0.5  # rounds to +1 (floor(x + 0.5 + 0.5)): (3, 5) is a hole
    prev_flow[0, 0, 0, 5] = 1.0  # leaves the frame: contributes nothing
    next_flow = torch.zeros((1, 2, h, w))
    next_flow[:, 1] = -1.0  # one pixel up in t+1
    next_flow[0, 0, 3, 4] = 1.0  # (3, 4) -> (2, 5): no hole in t+1
    prev_conf = torch.ones((1, 1, h, w))
    next_conf = torch.ones((1, 1, h, w))
    prev_conf[0, 0, 0, 1] = 0.0  # (0, 1) pulls nothing anyway
    return own, [prev_mask, next_mask], [prev_flow, next_flow], [prev_conf, next_conf]


def test_rule_on_a_hand_made_case():
    own, masks, flows, confs = _hand_made()
    out = propagate_masks(own, masks, flows, confs)
    assert torch.equal(out, _expected(own, masks, flows, confs))
    assert out[0, 0, 0, 0]  # own mask kept
    assert out[0, 0, 1, 1]  # t-1 hole at (1, 2) pulled by +1 px
    assert out[0, 0, 3, 4]  # +0.5 px rounds up onto the t-1 hole at (3, 5); t+1 adds nothing
    assert not out[0, 0, 3, 3]  # +1.49 rounds to (3, 4), not a hole
    assert out[0, 0, 2, 3]  # t+1 hole at (1, 3) pulled by -1 px in y
    assert not out[0, 0, 3, 5]  # its t-1 pull leaves the frame, its t+1 pull lands on (2, 5): no hole
    assert out.sum() == _expected(own, masks, flows, confs).sum()


def test_rule_with_soft_confidences_sums_neighbours():
    own, masks, flows, confs = _hand_made()
    # (3, 4): t-1 pulls its hole at (3, 5); make t+1 pull a hole there too, both half confident
    masks[1][0, 0, 3, 5] = True
    flows[1][0, :, 3, 4] = torch.tensor([1.0, 0.0])
    cases = ((0.5, 0.5, True), (0.5, 0.4, False), (1.0, 0.0, True), (0.6, 0.6, True))
    for conf_prev, conf_next, expected in cases:
        confs[0][0, 0, 3, 4] = conf_prev
        confs[1][0, 0, 3, 4] = conf_next
        out = propagate_masks(own, masks, flows, confs)
        assert bool(out[0, 0, 3, 4]) is expected, (conf_prev, conf_next)
        assert torch.equal(out, _expected(own, masks, flows, confs))


def test_random_cases_match_the_written_out_rule():
    g = torch.Generator().manual_seed(0)
    h, w = 9, 13
    own = torch.rand((1, 1, h, w), generator=g) < 0.1
    masks = [torch.rand((1, 1, h, w), generator=g) < 0.25 for _ in range(2)]
    flows = [torch.randn((1, 2, h, w), generator=g) * 3 for _ in range(2)]
    confs = [(torch.rand((1, 1, h, w), generator=g) * 1.2).clamp(max=1) for _ in range(2)]
    assert torch.equal(propagate_masks(own, masks, flows, confs), _expected(own, masks, flows, confs))


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_guided_path_at_full_resolution_is_the_rule(backend):
    """With fields already at full resolution every pixel reads its own flow: same as the reference."""
    own, masks, flows, confs = _hand_made()
    fields = torch.cat([torch.cat([f, c], dim=1) for f, c in zip(flows, confs, strict=True)])  # (2, 3, h, w)
    guide = torch.rand(own.shape[-2:]) * 5
    out = propagate_guided(own, masks, fields, guide, guide.view(1, 1, *guide.shape), 1.0, backend=backend)
    assert torch.equal(out, propagate_masks(own, masks, flows, confs))


def _reduced_case(seed: int):
    """Working fields at 1/4 resolution over a layered guide (gating matters), sparse holes."""
    g = torch.Generator().manual_seed(seed)
    big_h, big_w, h, w = 48, 80, 12, 20
    guide_full = torch.full((big_h, big_w), 2.0)
    guide_full[10:30, 20:45] = 9.0
    guide_full[5:8, 60:70] = float("nan")
    guide_small = guide_full[1::4, 1::4] * (w / big_w) + torch.rand((h, w), generator=g) * 0.1
    fields = torch.randn((2, 3, h, w), generator=g) * 2
    fields[:, 2] = (torch.rand((2, h, w), generator=g) > 0.3).float()
    own = torch.rand((1, 1, big_h, big_w), generator=g) < 0.02
    masks = [torch.rand((1, 1, big_h, big_w), generator=g) < 0.05 for _ in range(2)]
    return own, masks, fields, guide_small, guide_full.view(1, 1, big_h, big_w)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numba_and_torch_agree_on_reduced_fields(seed):
    own, masks, fields, guide_small, guide_full = _reduced_case(seed)
    a = propagate_guided(own, masks, fields, guide_small, guide_full, 1.0, backend="numba")
    b = propagate_guided(own, masks, fields, guide_small, guide_full, 1.0, backend="torch")
    assert torch.equal(a, b)
    up = upsample_fields(fields, guide_small, guide_full[0, 0], 1.0)
    flows, confs = [up[k : k + 1, :2] for k in range(2)], [up[k : k + 1, 2:] for k in range(2)]
    ref = propagate_masks(own, masks, flows, confs)
    assert torch.equal(a, ref)
    assert (a & ~own).any()  # the case propagates something


def test_guided_upsampling_keeps_each_pixel_on_its_own_layer():
    """At a depth edge a pixel takes its own layer's flow, not a blend."""
    big_h, big_w, h, w = 8, 32, 2, 8
    guide_full = torch.full((big_h, big_w), 2.0)
    guide_full[:, 16:] = 10.0
    guide_small = torch.full((h, w), 2.0 * w / big_w)
    guide_small[:, 4:] = 10.0 * w / big_w
    fields = torch.zeros((1, 3, h, w))
    fields[0, 0, :, :4] = 1.0 / 4  # background moves +1 px (working px are 4 px)
    fields[0, 0, :, 4:] = -3.0 / 4  # foreground -3 px
    fields[0, 2] = 1.0
    up = upsample_fields(fields, guide_small, guide_full, 1.0)
    assert torch.allclose(up[0, 0, :, :16], torch.tensor(1.0, dtype=torch.float64))
    assert torch.allclose(up[0, 0, :, 16:], torch.tensor(-3.0, dtype=torch.float64))
