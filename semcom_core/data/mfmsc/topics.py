"""Topic sentences: the embedded text-classification task of MFMSC (``text_cls``), learnable by a small model.

Each sentence mixes function words with 2 to 4 content words of its topic and up to 2 distractor words of
other topics, in random order around a few sentence frames, so that no single word decides the class but
the topic's words are almost always the most frequent. A bag-of-words linear probe reaches 0.97-0.98 on it (see the tests),
the role of SST-2 or AG News in the paper: a task whose labels the text determines. (Fortune files, the
earlier source, share most of their vocabulary across topics: a bag-of-words probe stays near 0.6 there.)
Splits come from distinct seeds; deterministic in seed.
"""

from __future__ import annotations

import numpy as np

TOPICS = ("weather", "sports", "food", "computers")
TOPIC_WORDS = {
    "weather": ("rain", "snow", "wind", "storm", "cloud", "sunny", "cold", "warm", "forecast", "thunder", "fog",
                "frost", "humid", "drizzle", "breeze", "temperature", "umbrella", "hail", "flood", "heatwave"),
    "sports": ("goal", "match", "team", "score", "player", "coach", "league", "ball", "race", "referee", "stadium",
               "season", "penalty", "tennis", "football", "runner", "medal", "tournament", "pitch", "striker"),
    "food": ("bread", "soup", "cheese", "recipe", "kitchen", "dinner", "sugar", "bake", "fruit", "spicy", "salad",
             "butter", "pasta", "garlic", "oven", "dessert", "onion", "sauce", "breakfast", "flour"),
    "computers": ("software", "keyboard", "network", "server", "code", "bug", "compile", "disk", "linux", "email",
                  "browser", "password", "laptop", "kernel", "database", "memory", "program", "screen", "cable",
                  "update"),
}
FRAMES = ("i think", "yesterday we talked about", "the news said", "my friend likes", "nobody expected",
          "they wrote about", "we heard that", "everyone asked about", "she told me about", "today there was")
FILLER = ("the", "a", "and", "with", "some", "very", "more", "after", "before", "again", "really", "new", "old",
          "big", "small", "of", "in", "on", "at", "for")


def topic_sentences(split: str, n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` sentences and their topic index (balanced over :data:`TOPICS`)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1 sentences, got {n}")
    rng = np.random.default_rng([seed, 0 if split == "train" else 1, 7])
    labels = rng.permutation(np.arange(n) % len(TOPICS))
    texts = []
    for label in labels:
        own = TOPIC_WORDS[TOPICS[label]]
        words = list(rng.choice(own, int(rng.integers(2, 5)), replace=False))
        for _ in range(int(rng.integers(0, 3))):              # distractors from other topics
            other = TOPICS[(label + int(rng.integers(1, len(TOPICS)))) % len(TOPICS)]
            words.append(str(rng.choice(TOPIC_WORDS[other])))
        words += list(rng.choice(FILLER, int(rng.integers(2, 6))))
        rng.shuffle(words)
        texts.append(f"{FRAMES[int(rng.integers(len(FRAMES)))]} {' '.join(words)}")
    return texts, labels.astype(np.int64)
