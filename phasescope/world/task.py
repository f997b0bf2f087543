"""The embedded world's task: arithmetic on `world.digits`-digit operands (3 by default, 2 to 4) with a
verifiable answer, in two answer styles.

A miniature of the paper's setting (BACKGROUND.md):
- the *target skill* is addition, the analogue of competition maths: the expert data, the RL prompts
  and the headline held-out metric (`eval/accuracy`) are all addition;
- the *general skill* is max (`47>23=47;`; subtraction is the alternative), the analogue of
  MMLU-Pro: the base model has it, nobody trains on it, and `eval/general_accuracy` measures what post-training on narrow data costs;
- the base model's *own style* is a direct answer (`123+456=579;`), the expert's *divergent style* is
  a digit-by-digit chain of thought with carries (`123+456=|3+6+0=09|2+5+0=07|1+4+0=05|=579;`), the
  analogue of long R1 reasoning traces fed to an instruct model.
For a given `digits` every prompt has the same length, so batches need no prompt padding.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

EOS = ";"
COT_MARK = "|"


@dataclass(frozen=True)
class Problem:
    a: int
    b: int
    op: str  # "+" (the target skill), "-" or ">" (max: a general skill)
    digits: int = 3  # world.digits' default

    @property
    def prompt(self) -> str:
        return f"{self.a}{self.op}{self.b}="

    @property
    def answer(self) -> int:
        if self.op == "+":
            return self.a + self.b
        return self.a - self.b if self.op == "-" else max(self.a, self.b)


def direct_response(p: Problem) -> str:
    """The base model's own style: the answer and the end mark."""
    return f"{p.answer}{EOS}"


def cot_response(p: Problem, slip: int | None = None) -> str:
    """The expert's style: one `|d+d+carry=cs` step per digit, least significant first.

    `slip`: the step whose column sum is off by one (+1; −1 for a sum of 19), everything after it
    following from the slip (the carry, the later steps, a wrong final answer), as when a careful
    writer mis-adds one column (`world.expert_slip_rate`)."""
    if p.op != "+":
        raise ValueError("the expert writes chains of thought for addition only")
    a, b = f"{p.a:0{p.digits}d}", f"{p.b:0{p.digits}d}"
    carry, steps, digits = 0, [], []
    for i, (da, db) in enumerate(zip(reversed(a), reversed(b))):
        s = int(da) + int(db) + carry
        if i == slip:
            s = s + 1 if s < 19 else s - 1
        steps.append(f"{COT_MARK}{da}+{db}+{carry}={s:02d}")
        digits.append(s % 10)
        carry = s // 10
    answer = int(str(carry) + "".join(str(d) for d in reversed(digits)))  # p.answer when nothing slipped
    return "".join(steps) + f"{COT_MARK}={answer}{EOS}"


def expert_responses(problems: list[Problem], slip_rate: float, seed: int) -> list[str]:
    """The expert's chains of thought; a share `slip_rate` of them (chosen with `seed`) has one slip."""
    rng = random.Random(f"slips-{seed}")
    slipped = set(rng.sample(range(len(problems)), round(slip_rate * len(problems))))
    return [
        cot_response(p, slip=rng.randrange(p.digits)) if i in slipped else cot_response(p)
        for i, p in enumerate(problems)
    ]


def parse_answer(response: str) -> int | None:
    """The final answer of a response in either style, or None when it has none.

    Direct answers read `579;`; chains of thought end in `|=579;`. Anything after the first end mark
    is ignored, as generation stops there.
    """
    if EOS not in response:
        return None
    text = response.split(EOS, 1)[0]
    m = re.search(r"\|=(-?\d+)$", text) if text.startswith(COT_MARK) else re.fullmatch(r"-?\d+", text)
    if m is None:
        return None
    return int(m.group(1) if m.groups() else m.group(0))


def is_well_formed(response: str, digits: int = 3) -> bool:
    """True for a terminated direct answer or a terminated chain of thought with one step per digit."""
    if EOS not in response:
        return False
    text = response.split(EOS, 1)[0]
    if re.fullmatch(r"-?\d+", text):
        return True
    return re.fullmatch(r"(\|\d\+\d\+\d=\d\d){%d}\|=\d+" % digits, text) is not None


def reward(problem_answer: int, response: str) -> float:
    """1.0 when the final answer is right, in any style; 0.0 otherwise (the verifiable reward)."""
    return 1.0 if parse_answer(response) == problem_answer else 0.0


@dataclass(frozen=True)
class Splits:
    """Disjoint problem sets, all drawn from one seed.

    `expert` and `rl` do not overlap (as in the paper: SFT traces and RL prompts are separate);
    `eval` and `eval_general` never appear in any training set, base pre-training included.
    """

    pretrain_add: list[Problem]
    pretrain_general: list[Problem]
    expert: list[Problem]
    rl: list[Problem]
    eval: list[Problem]
    eval_general: list[Problem]
    dev: list[Problem]  # picks the base checkpoint, so that choice never looks at `eval`


def make_splits(
    seed: int,
    n_pretrain_add: int,
    n_pretrain_general: int,
    n_expert: int,
    n_rl: int,
    n_eval: int,
    n_dev: int = 256,
    digits: int = 3,
    general_op: str = ">",
) -> Splits:
    """Draw every set without replacement from the `digits`-digit problems of each operator.

    Pre-training sets are drawn last and may be cut short when the problem space runs out (at 2 digits:
    90 × 90 problems per operator).
    """
    rng = random.Random(seed)

    lo, hi = 10 ** (digits - 1), 10**digits - 1
    span = hi - lo + 1
    space = {"+": span * span, ">": span * span, "-": span * (span + 1) // 2}  # subtraction keeps a >= b

    def draw(op: str, n: int, taken: set) -> list[Problem]:
        out = []
        n = min(n, space[op] - sum(1 for k in taken if k[2] == op))
        while len(out) < n:
            a, b = rng.randint(lo, hi), rng.randint(lo, hi)
            if op == "-" and a < b:
                a, b = b, a
            key = (a, b, op)
            if key in taken:
                continue
            taken.add(key)
            out.append(Problem(a, b, op, digits))
        return out

    taken: set = set()
    # Held-out sets first, so that changing a training-set size never changes what is evaluated.
    eval_add = draw("+", n_eval, taken)
    eval_general = draw(general_op, n_eval, taken)
    dev = draw("+", n_dev, taken)
    expert = draw("+", n_expert, taken)
    # RL prompts avoid the held-out and expert problems; pre-training may have seen an RL prompt in
    # the base's own style (as an instruct model has seen maths problems), which keeps the small
    # space of 2-digit worlds from starving pre-training.
    rl = draw("+", n_rl, set(taken))
    pre_add = draw("+", n_pretrain_add, taken)
    pre_general = draw(general_op, n_pretrain_general, taken)
    return Splits(pre_add, pre_general, expert, rl, eval_add, eval_general, dev)
