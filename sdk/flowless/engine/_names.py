"""Names and ids of runs: ``laughing-nightingale`` for flow runs, ``fetch_stats-0c9``
for task runs, and the deterministic ids behind the journal.

Names come from a private ``random.Random`` so that naming a run never consumes numbers
from the user's ``random`` module (a seeded pipeline must stay reproducible).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any

from flowless._hashing import short_digest
from flowless.context import naming

__all__ = ["generate_flow_run_name", "render_run_name", "task_run_display_name", "task_run_id"]

_ADJECTIVES = """
able agile amber ambitious ancient arctic artful astral auburn azure bold brave breezy
bright brisk bronze bubbly calm candid careful cheerful chirpy classy clever cobalt
cosmic crafty crimson crystal curious daring dazzling deft devoted dreamy eager earnest
electric elegant emerald epic fair fearless festive fiery flawless fluffy fluent frosty
gentle gilded giant glowing golden graceful grinning groovy hardy hazy heroic honest
hopeful humble icy ideal idyllic jade jolly jovial keen kind laughing lavish lively
lucky lunar magic majestic mellow merry mighty misty modest mystic nimble noble
nocturnal olive opal optimal patient placid playful polar polished precious prudent
puzzling quick quiet radiant rapid rare ready regal resolute robust rosy royal ruby
rustic sage sandy sapphire scarlet serene shiny silent silky silver sleek smart smiling
snowy solar sparkling spirited splendid spry stellar steady stoic sturdy sublime sunny
swift tactful tidy tranquil tropical true twinkling upbeat valiant velvet vibrant
vigilant vivid warm whimsical wise witty zealous zesty
""".split()  # noqa: SIM905 - a word list reads best as text

_ANIMALS = """
albatross alpaca anteater antelope armadillo axolotl badger barnacle barracuda beagle
bear beaver bison bobcat buffalo butterfly camel capybara caracal cardinal caribou
cassowary cat chameleon cheetah chihuahua chinchilla chipmunk civet cobra condor corgi
cougar coyote crab crane cuckoo dingo dolphin donkey dove dragonfly duck eagle echidna
eel egret elephant elk emu falcon ferret finch flamingo fox frog gazelle gecko gerbil
gibbon giraffe gnu goose gopher gorilla goshawk grouse gull hamster hare hawk hedgehog
heron hippo hornet horse hummingbird ibex ibis iguana impala jackal jaguar jellyfish
kangaroo kestrel kingfisher kiwi koala lemming lemur leopard lion llama lobster lynx
macaw magpie manatee mandrill marmot meerkat mink mole mongoose moose narwhal newt
nightingale ocelot octopus okapi orca osprey ostrich otter owl panda panther parrot
pelican penguin pheasant pig platypus porcupine puffin puma quail quokka rabbit raccoon
raven reindeer rhino roadrunner robin salamander seal shark sheep skunk sloth snail
sparrow squid squirrel starling stingray stork swan tapir tarsier tiger toad toucan
turkey turtle viper vulture walrus wallaby warbler weasel whale wolf wombat woodpecker
yak zebra
""".split()  # noqa: SIM905 - a word list reads best as text

_rng = random.Random()


def generate_flow_run_name() -> str:
    return f"{_rng.choice(_ADJECTIVES)}-{_rng.choice(_ANIMALS)}"


def task_run_id(flow_run_id: str, task_key: str, dynamic_key: int, *, legacy: bool = False) -> str:
    """Deterministic: re-running a flow body gives the same call the same id.

    Shaped as a UUID: the first group is the same for every call of one task in one flow
    run, the next two count the calls (the dynamic key in hex), the last two are the
    call's own hash. So a batch of new task runs lands in a few pages of each index
    ordered by id, not in one random page each (that cost half of a row's time in
    SQLite, and most of the WAL's bytes). ``legacy``: the whole id is the call's hash,
    as in runs stored before these ids (``load_journal`` tells: a resumed run keeps
    its ids), and past 2**32 calls of one task."""
    call = short_digest(f"{flow_run_id}\x1f{task_key}\x1f{dynamic_key}".encode())
    if legacy or dynamic_key > _MAX_COUNTED:
        return f"{call[:8]}-{call[8:12]}-{call[12:16]}-{call[16:20]}-{call[20:]}"
    n = f"{dynamic_key:08x}"
    return f"{_group(flow_run_id, task_key)}-{n[:4]}-{n[4:]}-{call[:4]}-{call[4:16]}"


_MAX_COUNTED = 0xFFFFFFFF


@functools.lru_cache(maxsize=256)
def _group(flow_run_id: str, task_key: str) -> str:
    return short_digest(f"{flow_run_id}\x1f{task_key}".encode())[:8]


def render_run_name(
    template: str | Callable[[], str],
    record: Any,
    parameters: dict[str, Any],
    kind: str,
    owner: str,
) -> str:
    """A ``flow_run_name``/``task_run_name`` option made into a name: a callable (which can
    read ``flowless.runtime`` about the run being named), or a template filled in with the
    run's parameters."""
    if callable(template):
        token = naming.set((record, parameters))
        try:
            return str(template())
        finally:
            naming.reset(token)
    try:
        return template.format(**parameters)
    except (KeyError, IndexError, AttributeError, ValueError) as exc:
        raise ValueError(
            f"{kind}_run_name {template!r} of {kind} {owner!r} cannot be formatted with the "
            f"{kind}'s parameters {sorted(parameters)}: {type(exc).__name__}: {exc}"
        ) from None


def task_run_display_name(task_name: str, task_run_id: str, *, legacy: bool = False) -> str:
    """``name-xyz``, as Prefect prints them: the first three hex digits of the id's fourth
    group, the call's own hash (its first group is shared by every call of the task); of
    an all-hash id (``legacy``), its first three, as such runs were named."""
    return f"{task_name}-{task_run_id[:3] if legacy else task_run_id[19:22]}"
