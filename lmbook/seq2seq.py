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
from lmbook.validate import (
    check_distinct,
    check_encoded_pairs,
    check_id,
    check_int,
    check_nonempty,
    check_number,
    check_padded_right,
    check_sentence_pair,
    check_targets,
    check_token_ids,
    check_token_lists,
    check_token_sequence,
    check_tokens,
    check_type,
    check_vocab_specials,
)

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)  # every vocabulary of this module holds these

State = dict[str, torch.Tensor]


# --- vocabularies and examples ------------------------------------------------------


def build_vocab(sentences: Iterable[Sequence[str]], min_freq: int = 1) -> Vocab:
    """A Vocab of the tokens in sentences, with <unk> (id 0), <pad>, <bos> and <eos>.

    Look ids up by name (vocab.stoi[PAD]) rather than assuming them.
    """
    check_token_lists("sentences", sentences)

    def tokens() -> Iterator[str]:
        for i, sentence in enumerate(sentences):
            check_tokens(f"sentence {i}", sentence)
            yield from sentence

    return Vocab(tokens(), min_freq=min_freq, specials=(PAD, BOS, EOS), unk=UNK)


def _check_vocab(vocab: Vocab, name: str) -> None:
    # kept for lmbook.translator (chapter 6b), which calls it; new code calls the validator
    check_vocab_specials(name, vocab, SPECIALS)


def encode_pairs(
    pairs: Sequence[tuple[Sequence[str], Sequence[str]]], src_vocab: Vocab, tgt_vocab: Vocab
) -> list[tuple[list[int], list[int]]]:
    """Token pairs as id pairs: (source ids + <eos>, <bos> + target ids + <eos>).

    Unknown tokens map to <unk>.
    """
    check_vocab_specials("src_vocab", src_vocab, SPECIALS)
    check_vocab_specials("tgt_vocab", tgt_vocab, SPECIALS)
    bos, eos = tgt_vocab.stoi[BOS], tgt_vocab.stoi[EOS]
    examples = []
    for i, pair in enumerate(pairs):
        check_sentence_pair(f"pair {i}", pair)
        src, tgt = pair
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
    check_nonempty("seqs", seqs)
    for i, s in enumerate(seqs):
        check_token_sequence(f"seqs[{i}]", s, at_least=0)  # 1.7 would become id 1
    check_int("pad_id", pad_id, low=0)
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
        check_int("batch_size", batch_size)
        self.examples = list(examples)
        check_encoded_pairs("examples", self.examples)
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
    check_int("src_pad", src_pad, low=0)
    check_int("tgt_pad", tgt_pad, low=0)
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
    n_layers: int = 1  # L, stacked GRU layers
    dropout: float = 0.0  # on embeddings, between GRU layers, and before the output layer

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "n_embd", "n_hidden", "n_layers"):
            check_int(name, getattr(self, name))
        check_number("dropout", self.dropout, low=0, high=1, high_open=True)
        check_id("src_pad_id", self.src_pad_id, "src_vocab_size", self.src_vocab_size)
        for name in ("tgt_pad_id", "bos_id", "eos_id"):
            check_id(name, getattr(self, name), "tgt_vocab_size", self.tgt_vocab_size)
        check_distinct(tgt_pad_id=self.tgt_pad_id, bos_id=self.bos_id, eos_id=self.eos_id)

    @classmethod
    def from_vocabs(cls, src_vocab: Vocab, tgt_vocab: Vocab, **sizes: int | float) -> Seq2SeqConfig:
        """The config whose vocabulary sizes and special ids are those of the two vocabularies."""
        check_vocab_specials("src_vocab", src_vocab, SPECIALS)
        check_vocab_specials("tgt_vocab", tgt_vocab, SPECIALS)
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
    """Embeds the source and runs a GRU over it; <pad> never enters the GRU's state."""

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
        """src (B, S) -> outputs (B, S, H), zero at padding, final states (L, B, H)."""
        check_token_ids(src, self.embed.num_embeddings, name="src")
        check_padded_right("source", src, self.pad_id)
        lengths = (src != self.pad_id).sum(1)  # (B,) real tokens per row
        x = self.drop(self.embed(src))  # (B, S, E)
        # Packing runs each row's GRU for its own length only, so its final state is the
        # state after its last real token, the same as for the sentence alone.
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, hidden = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.size(1))
        return outputs, hidden  # outputs: (B, S, H); hidden: (n_layers, B, H)


class Decoder(nn.Module):
    """The GRU decoder of Cho et al. (2014): c enters every step and the output layer.

    Step t reads [e(y_{t-1}); c], updates s_t, and scores the next token with one linear
    layer over [s_t; e(y_{t-1}); c] (Cho's deep output, without its maxout).
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
        """y (B, T) previous tokens, hidden (L, B, H), context (B, H) -> logits, hidden.

        The logits are (B, T, V); hidden is the state after the last token of y.
        """
        check_token_ids(y, self.embed.num_embeddings, name="y")
        e = self.drop(self.embed(y))  # (B, T, E)
        c = context.unsqueeze(1).expand(-1, y.size(1), -1)  # (B, T, H)
        s, hidden = self.rnn(torch.cat([e, c], dim=-1), hidden)  # s_1 … s_T: (B, T, H)
        logits = self.out(self.drop(torch.cat([s, e, c], dim=-1)))  # (B, T, V)
        return logits, hidden


class Seq2Seq(nn.Module):
    """Encoder–decoder: forward(src, tgt) -> (logits, loss) by teacher forcing.

    The decoder starts from the encoder's final states (every layer) and reads the
    context c = the top layer's final state at every step; encode and decode_step
    serve greedy and beam search.
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        check_type("config", config, Seq2SeqConfig, "a Seq2SeqConfig")
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def encode(self, src: torch.Tensor) -> State:
        """src (B, S) -> the decoding state {"hidden": (B, L, H), "context": (B, H)}."""
        _, hidden = self.encoder(src)  # (n_layers, B, H)
        return {"hidden": hidden.transpose(0, 1), "context": hidden[-1]}

    def decode(self, y: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Decode y (B, T) from state -> logits (B, T, V) and the state after y."""
        hidden = state["hidden"].transpose(0, 1).contiguous()  # (n_layers, B, H)
        logits, hidden = self.decoder(y, hidden, state["context"])
        return logits, {**state, "hidden": hidden.transpose(0, 1)}

    def decode_step(self, prev: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step: previous tokens prev (B,) -> next logits (B, V), new state."""
        logits, state = self.decode(prev.unsqueeze(1), state)
        return logits[:, 0], state

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src (B, S), tgt (B, T) = <bos> … <eos> <pad>… -> logits (B, T-1, V), loss.

        Teacher forcing: the decoder reads tgt[:, :-1] and predicts tgt[:, 1:]; the loss
        is the mean cross-entropy over the target positions that are not <pad>.
        """
        check_targets(tgt, self.config.bos_id)
        logits, _ = self.decode(tgt[:, :-1], self.encode(src))  # (B, T-1, V)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)),
            tgt[:, 1:].reshape(-1),
            ignore_index=self.config.tgt_pad_id,  # padding adds nothing to the loss
        )
        return logits, loss
