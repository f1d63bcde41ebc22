"""The RNN encoder–decoder (Cho et al., 2014) for translation: vocabularies, batches, the model.

Introduced in chapter 4 and extended with attention in chapter 5::

    >>> pairs = [(["the", "cat", "sleeps", "."], ["le", "chat", "dort", "."])]
    >>> src_vocab = build_vocab(s for s, _ in pairs)
    >>> tgt_vocab = build_vocab(t for _, t in pairs)
    >>> examples = encode_pairs(pairs, src_vocab, tgt_vocab)
    >>> batches = LengthBatches(examples, batch_size=32, shuffle=True, seed=0,
    ...                         src_pad=src_vocab.stoi[PAD], tgt_pad=tgt_vocab.stoi[PAD])
    >>> model = Seq2Seq(Seq2SeqConfig.from_vocabs(src_vocab, tgt_vocab, n_hidden=64))
    >>> src, tgt = next(iter(batches))
    >>> logits, loss = model(src, tgt)     # teacher forcing: (B, T-1, V) and a scalar

A source sentence is its token ids followed by <eos>; a target is <bos> ids <eos>. Both
are padded on the right with <pad>.

The decoding state. `encode(src)` returns the state that `decode_step(prev, state)`
takes and returns: a dict of tensors, every one of them with the batch in dim 0. Here
it is {"hidden": (B, n_layers, H), "context": (B, H)}; chapter 5's attention model
adds the encoder outputs and the source mask. Because the batch is always dim 0, beam
search reorders or copies hypotheses with one rule for any model:
`{k: v.index_select(0, idx) for k, v in state.items()}`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lmbook.text import Vocab

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"

State = dict[str, torch.Tensor]


# --- vocabularies and examples ------------------------------------------------------


def _check_sentence(sentence: object, what: str) -> None:
    if isinstance(sentence, str):
        raise TypeError(
            f"{what} is a str ({sentence[:30]!r}), not a list of tokens; tokenize it first"
        )


def build_vocab(sentences: Iterable[Sequence[str]], min_freq: int = 1) -> Vocab:
    """A Vocab of the tokens in sentences, with <unk> (id 0), <pad>, <bos> and <eos>.

    Look ids up by name (vocab.stoi[PAD]) rather than assuming them.
    """
    if isinstance(sentences, str):
        raise TypeError("sentences must be token lists, got a str: tokenize it first")

    def tokens() -> Iterator[str]:
        for i, sentence in enumerate(sentences):
            _check_sentence(sentence, f"sentence {i}")
            yield from sentence

    return Vocab(tokens(), min_freq=min_freq, specials=(PAD, BOS, EOS), unk=UNK)


def _check_vocab(vocab: Vocab, name: str) -> None:
    if not isinstance(vocab, Vocab):
        raise TypeError(f"{name} must be an lmbook.text.Vocab, got {type(vocab).__name__}")
    missing = [t for t in (PAD, BOS, EOS, UNK) if t not in vocab]
    if missing:
        raise ValueError(
            f"{name} lacks the special tokens {missing}; build it with lmbook.seq2seq.build_vocab"
        )


def encode_pairs(
    pairs: Sequence[tuple[Sequence[str], Sequence[str]]], src_vocab: Vocab, tgt_vocab: Vocab
) -> list[tuple[list[int], list[int]]]:
    """Token pairs as id pairs: (source ids + <eos>, <bos> + target ids + <eos>).

    Unknown tokens map to <unk>.
    """
    _check_vocab(src_vocab, "src_vocab")
    _check_vocab(tgt_vocab, "tgt_vocab")
    bos, eos = tgt_vocab.stoi[BOS], tgt_vocab.stoi[EOS]
    examples = []
    for i, pair in enumerate(pairs):
        if isinstance(pair, str) or len(pair) != 2:
            raise ValueError(
                f"pair {i} must be a (source tokens, target tokens) pair, got {pair!r}"
            )
        src, tgt = pair
        _check_sentence(src, f"the source of pair {i}")
        _check_sentence(tgt, f"the target of pair {i}")
        examples.append(
            (src_vocab.encode(src) + [src_vocab.stoi[EOS]], [bos] + tgt_vocab.encode(tgt) + [eos])
        )
    return examples


def pad(seqs: Sequence[Sequence[int]], pad_id: int) -> torch.Tensor:
    """Sequences of ids as one (B, L) LongTensor, padded on the right with pad_id.

    >>> pad([[5, 6, 7], [8]], pad_id=1)
    tensor([[5, 6, 7],
            [8, 1, 1]])
    """
    if len(seqs) == 0:
        raise ValueError("seqs is empty: nothing to pad")
    out = torch.full((len(seqs), max(len(s) for s in seqs)), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out


class LengthBatches:
    """Padded (src, tgt) batches of similar lengths, in a new random order on every pass.

    Each pass (epoch) sorts the examples by (source, target) length, breaking ties at
    random when shuffle=True, cuts them into batches of batch_size, and shuffles the
    order of the batches; so a batch holds sentences of about one length and carries
    little padding. by_length=False gives plain random batches, to compare. The order
    of every pass comes from random.Random(seed): the same seed, the same epochs.
    """

    def __init__(
        self,
        examples: Sequence[tuple[Sequence[int], Sequence[int]]],
        batch_size: int,
        *,
        shuffle: bool,
        seed: int | None = None,
        src_pad: int,
        tgt_pad: int,
        by_length: bool = True,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.examples = list(examples)
        if not self.examples:
            raise ValueError("examples is empty: there is nothing to batch")
        for i, example in enumerate(self.examples):
            if len(example) != 2 or len(example[0]) == 0 or len(example[1]) < 2:
                raise ValueError(
                    f"example {i} must be (source ids, target ids) with a non-empty source and "
                    f"at least <bos> <eos> as target, got {example!r}; use encode_pairs"
                )
        self.batch_size = batch_size
        self.shuffle, self.by_length = shuffle, by_length
        self.src_pad, self.tgt_pad = src_pad, tgt_pad
        self._rng = random.Random(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.examples) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = list(range(len(self.examples)))
        if self.shuffle:
            self._rng.shuffle(order)  # random batches, or random ties once sorted
        if self.by_length:
            order.sort(key=lambda i: (len(self.examples[i][0]), len(self.examples[i][1])))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.shuffle:
            self._rng.shuffle(batches)
        for batch in batches:
            src = pad([self.examples[i][0] for i in batch], self.src_pad)  # (B, S)
            tgt = pad([self.examples[i][1] for i in batch], self.tgt_pad)  # (B, T)
            yield src, tgt


def padding_fraction(
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]], src_pad: int, tgt_pad: int
) -> tuple[float, float]:
    """The share of <pad> among all source and all target positions of the batches."""
    counts = torch.zeros(4, dtype=torch.long)  # source pads, source cells, target pads, cells
    for src, tgt in batches:
        counts += torch.tensor(
            [(src == src_pad).sum(), src.numel(), (tgt == tgt_pad).sum(), tgt.numel()]
        )
    if counts[1] == 0:
        raise ValueError("batches yielded nothing")
    src_pads, src_cells, tgt_pads, tgt_cells = counts.tolist()
    return src_pads / src_cells, tgt_pads / tgt_cells


# --- the model ----------------------------------------------------------------------


@dataclass
class Seq2SeqConfig:
    """The sizes and special ids of an encoder–decoder; from_vocabs fills in the ids."""

    src_vocab_size: int
    tgt_vocab_size: int
    src_pad_id: int
    tgt_pad_id: int
    bos_id: int
    eos_id: int
    n_embd: int = 128  # E, the size of a token embedding
    n_hidden: int = 256  # H, the size of the GRU states
    n_layers: int = 1
    dropout: float = 0.0  # on embeddings, between GRU layers, and before the output layer

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "n_embd", "n_hidden", "n_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if isinstance(self.dropout, bool) or not (
            isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1
        ):
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")
        ids = [("src_pad_id", "src_vocab_size")] + [
            (name, "tgt_vocab_size") for name in ("tgt_pad_id", "bos_id", "eos_id")
        ]
        for name, size_name in ids:
            value, size = getattr(self, name), getattr(self, size_name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
                raise ValueError(f"{name} must be an int in [0, {size_name}={size}), got {value!r}")
        if len({self.tgt_pad_id, self.bos_id, self.eos_id}) < 3:
            raise ValueError(
                f"tgt_pad_id, bos_id and eos_id must differ, got {self.tgt_pad_id}, "
                f"{self.bos_id} and {self.eos_id}"
            )

    @classmethod
    def from_vocabs(cls, src_vocab: Vocab, tgt_vocab: Vocab, **sizes: int | float) -> Seq2SeqConfig:
        """The config whose vocabulary sizes and special ids are those of the two vocabularies."""
        _check_vocab(src_vocab, "src_vocab")
        _check_vocab(tgt_vocab, "tgt_vocab")
        return cls(
            src_vocab_size=len(src_vocab),
            tgt_vocab_size=len(tgt_vocab),
            src_pad_id=src_vocab.stoi[PAD],
            tgt_pad_id=tgt_vocab.stoi[PAD],
            bos_id=tgt_vocab.stoi[BOS],
            eos_id=tgt_vocab.stoi[EOS],
            **sizes,
        )


class Encoder(nn.Module):
    """Embeds the source and runs a GRU over it; padding never enters the recurrent state."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.pad_id = config.src_pad_id
        self.embed = nn.Embedding(config.src_vocab_size, config.n_embd, padding_idx=self.pad_id)
        self.drop = nn.Dropout(config.dropout)
        self.rnn = nn.GRU(
            config.n_embd,
            config.n_hidden,
            config.n_layers,
            batch_first=True,
            dropout=config.dropout if config.n_layers > 1 else 0.0,
        )

    def forward(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src (B, S) -> outputs (B, S, H), zero at padding, and final states (n_layers, B, H)."""
        B, S = src.shape
        mask = src != self.pad_id  # (B, S)
        lengths = mask.sum(1)  # (B,)
        if bool((lengths == 0).any()):
            raise ValueError(
                f"source row {int((lengths == 0).nonzero()[0])} is all <pad> "
                f"(id {self.pad_id}): every source needs a token (encode_pairs adds <eos>)"
            )
        if not torch.equal(mask, torch.arange(S, device=src.device) < lengths[:, None]):
            raise ValueError(
                f"sources must be padded on the right only, with <pad> = {self.pad_id}"
            )
        x = self.drop(self.embed(src))  # (B, S, E)
        # Packing runs each row's GRU for its own length only, so its final state is the
        # state after its last real token, the same as for the sentence alone.
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, hidden = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=S)  # (B, S, H)
        return outputs, hidden  # hidden: (n_layers, B, H)


class Decoder(nn.Module):
    """The GRU decoder of Cho et al. (2014): the context c enters every step and the output.

    Step t reads [e(y_{t-1}); c], updates h_t, and scores the next token with one linear
    layer over [h_t; e(y_{t-1}); c] (Cho's deep output, without its maxout).
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        E, H = config.n_embd, config.n_hidden
        self.embed = nn.Embedding(config.tgt_vocab_size, E, padding_idx=config.tgt_pad_id)
        self.drop = nn.Dropout(config.dropout)
        self.rnn = nn.GRU(
            E + H,
            H,
            config.n_layers,
            batch_first=True,
            dropout=config.dropout if config.n_layers > 1 else 0.0,
        )
        self.out = nn.Linear(H + E + H, config.tgt_vocab_size)

    def forward(
        self, y: torch.Tensor, hidden: torch.Tensor, context: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """y (B, T) previous tokens, hidden (n_layers, B, H), context c (B, H) -> logits, hidden.

        The logits are (B, T, V); hidden is the state after the last token of y.
        """
        e = self.drop(self.embed(y))  # (B, T, E)
        c = context.unsqueeze(1).expand(-1, y.size(1), -1)  # (B, T, H)
        h, hidden = self.rnn(torch.cat([e, c], dim=-1), hidden)  # (B, T, H)
        logits = self.out(self.drop(torch.cat([h, e, c], dim=-1)))  # (B, T, V)
        return logits, hidden


class Seq2Seq(nn.Module):
    """An encoder–decoder: forward(src, tgt) -> (logits, loss) by teacher forcing, and decoding.

    The decoder starts from the encoder's final states (every layer) and reads the
    context c = the top layer's final state at every step.
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def encode(self, src: torch.Tensor) -> State:
        """src (B, S) -> the decoding state {"hidden": (B, n_layers, H), "context": (B, H)}."""
        _, hidden = self.encoder(src)  # (n_layers, B, H)
        return {"hidden": hidden.transpose(0, 1), "context": hidden[-1]}

    def decode(self, y: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Run the decoder over y (B, T) from state -> logits (B, T, V) and the state after y."""
        hidden = state["hidden"].transpose(0, 1).contiguous()  # (n_layers, B, H)
        logits, hidden = self.decoder(y, hidden, state["context"])
        return logits, {**state, "hidden": hidden.transpose(0, 1)}

    def decode_step(self, prev: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One decoding step: prev (B,) tokens -> logits (B, V) of the next, and the new state."""
        logits, state = self.decode(prev.unsqueeze(1), state)
        return logits[:, 0], state

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src (B, S), tgt (B, T) = <bos> ... <eos> <pad>... -> logits (B, T-1, V), mean loss.

        Teacher forcing: the decoder reads tgt[:, :-1] and predicts tgt[:, 1:]; the loss
        is the mean cross-entropy over the target positions that are not <pad>.
        """
        if tgt.size(1) < 2:
            raise ValueError(
                f"tgt must hold at least <bos> and <eos>, got shape {tuple(tgt.shape)}"
            )
        if bool((tgt[:, 0] != self.config.bos_id).any()):
            raise ValueError(
                f"every target must start with <bos> (id {self.config.bos_id}), got first ids "
                f"{tgt[:, 0].tolist()[:8]}; encode targets with encode_pairs"
            )
        logits, _ = self.decode(tgt[:, :-1], self.encode(src))  # (B, T-1, V)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)),
            tgt[:, 1:].reshape(-1),
            ignore_index=self.config.tgt_pad_id,  # padding adds nothing to the loss
        )
        return logits, loss
