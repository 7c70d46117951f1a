"""Writes the sequence-labelling examples tags.csv and spoken.csv (deterministic: fixed seeds).

tags.csv: sentences from a small grammar, one word per row with its part-of-speech tag. Several
words are both nouns and verbs ("watch", "park", "run", ...) or both adverbs and adpositions, so a
word's tag depends on its neighbours.

spoken.csv: "utterances" of short words as frames of 6 noisy values: each letter lasts 2 to 4
frames around its own fixed pattern, with 0 to 2 frames of noise before, after and between
letters (at least one between a letter and its repeat). The text column holds the word's letters
separated by spaces on the utterance's first row: the target of a CTC labeller.
"""
import random

DET = ["the", "a", "this", "every"]
ADJ = ["small", "old", "green", "quick", "quiet"]
NOUN = ["dog", "girl", "city", "teacher", "bird", "river", "watch", "park", "run", "book"]
VERB = ["sees", "likes", "finds", "watch", "park", "run", "book", "reads"]
PRON = ["she", "they", "we", "he"]
ADP = ["in", "near", "over", "behind"]
ADV = ["slowly", "often", "over", "behind", "today"]


def noun_phrase(rng, out):
    out.append((rng.choice(DET), "DET"))
    if rng.random() < 0.4:
        out.append((rng.choice(ADJ), "ADJ"))
    out.append((rng.choice(NOUN), "NOUN"))


def sentence(rng):
    out = []
    if rng.random() < 0.3:
        out.append((rng.choice(PRON), "PRON"))
    else:
        noun_phrase(rng, out)
    verb = rng.choice(VERB)
    # A plural subject takes the bare verb form; the grammar only cares that the tag is VERB.
    out.append((verb, "VERB"))
    if rng.random() < 0.7:
        noun_phrase(rng, out)
    if rng.random() < 0.4:
        out.append((rng.choice(ADP), "ADP"))
        noun_phrase(rng, out)
    if rng.random() < 0.3:
        out.append((rng.choice(ADV), "ADV"))
    return out


def write_tags(path, count=400):
    rng = random.Random(7)
    with open(path, "w", newline="\n") as f:
        f.write("sentence,word,tag\n")
        for i in range(count):
            for word, tag in sentence(rng):
                f.write(f"s{i:03d},{word},{tag}\n")


WORDS = ["cat", "dog", "moon", "noon", "bee", "tent", "data", "note", "man", "bad", "code", "good", "mad", "egg", "ant"]
FEATURES = 6


def write_spoken(path, count=220):
    letters = sorted(set("".join(WORDS)))
    fixed = random.Random(11)
    patterns = {c: [fixed.choice([-1.0, 1.0]) * fixed.uniform(0.7, 1.3) for _ in range(FEATURES)] for c in letters}
    silence = [0.0] * FEATURES
    rng = random.Random(13)
    with open(path, "w", newline="\n") as f:
        f.write("utterance," + ",".join(f"f{k}" for k in range(1, FEATURES + 1)) + ",text\n")
        for i in range(count):
            word = rng.choice(WORDS)
            frames = []

            def emit(pattern, n):
                for _ in range(n):
                    frames.append([v + rng.gauss(0, 0.4) for v in pattern])

            emit(silence, rng.randint(0, 2))
            for k, c in enumerate(word):
                if k > 0:
                    emit(silence, rng.randint(1 if word[k - 1] == c else 0, 2))
                emit(patterns[c], rng.randint(2, 4))
            emit(silence, rng.randint(0, 2))
            for t, frame in enumerate(frames):
                text = " ".join(word) if t == 0 else ""
                f.write(f"u{i:03d}," + ",".join(f"{v:.2f}" for v in frame) + f",{text}\n")


if __name__ == "__main__":
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    write_tags(os.path.join(here, "tags.csv"))
    write_spoken(os.path.join(here, "spoken.csv"))
