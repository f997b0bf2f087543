"""sft_scaled's constant scale is what it claims: the mean φ = p(1 − p) of the shipped base over every
expert-response token of the default world (issue 20 quotes 0.032, and a median token p of 0.994)."""

import pytest
import torch

from phasescope.arms import PHI_MEAN_OF_BASE
from phasescope.config import default_arms, load_config
from phasescope.lm import encode_from_start
from phasescope.world import build_world
from phasescope.world.base import load_base


def test_sft_scaled_weight_is_the_default_bases_mean_phi():
    torch.set_num_threads(1)
    world = build_world(load_config(None).world, log=lambda *_: None)
    model, tok = load_base(world.base_path)
    model.eval()
    prompts, responses = world.expert_pairs
    ps = []
    with torch.no_grad():
        for i in range(0, len(prompts), 50):
            e = encode_from_start(tok, prompts[i : i + 50], responses[i : i + 50])
            att = e.get("completion_attention_mask", e["completion_mask"])
            ids = torch.cat([e["prompt_ids"], e["completion_ids"]], 1)
            logits = model(input_ids=ids, attention_mask=torch.cat([e["prompt_mask"], att], 1)).logits
            logp = torch.log_softmax(logits[:, e["prompt_ids"].size(1) - 1 : -1].float(), -1)
            p = logp.gather(-1, e["completion_ids"].unsqueeze(-1)).squeeze(-1).exp()
            ps.append(p[e["completion_mask"].bool()])
    p = torch.cat(ps)
    assert len(prompts) == 200 and p.numel() > 6000
    assert (p * (1 - p)).mean().item() == pytest.approx(PHI_MEAN_OF_BASE, abs=5e-4)  # 0.0322
    assert p.median().item() == pytest.approx(0.994, abs=5e-4)
    assert default_arms()["sft_scaled"].sft_weight == PHI_MEAN_OF_BASE
