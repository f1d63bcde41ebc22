"""Random (source, target) id pairs for the tests of chapters 4 to 6's encoder-decoders.

Not a test file (pytest collects only test_*.py); test files import it by name, as
pytest puts their folder on sys.path.
"""

import random

import torch

from lmbook.seq2seq import pad


def random_examples(
    n: int,
    seed: int,
    *,
    src_ids: tuple[int, int] = (4, 11),
    tgt_ids: tuple[int, int] = (4, 9),
    shortest: int = 1,
    longest: int = 8,
) -> list:
    """n (source, target) id pairs shaped like encode_pairs' output, of random lengths.

    Word ids are drawn from range(*src_ids) and range(*tgt_ids), after the special ids
    of build_vocab (unk 0, pad 1, bos 2, eos 3); sources end with <eos>, targets are
    wrapped in <bos> … <eos>.
    """
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        src = [rng.randrange(*src_ids) for _ in range(rng.randint(shortest, longest))] + [3]
        tgt = [2] + [rng.randrange(*tgt_ids) for _ in range(rng.randint(shortest, longest))] + [3]
        out.append((src, tgt))
    return out


def batch(examples) -> tuple[torch.Tensor, torch.Tensor]:
    """The pairs as padded (source (B, S), target (B, T)) batches, padded with id 1."""
    return pad([s for s, _ in examples], 1), pad([t for _, t in examples], 1)
