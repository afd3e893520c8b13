"""The workflow engine and the shipped transfer approval chain."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from app.domain.errors import Conflict, Forbidden, ValidationFailed
from app.domain.workflow import (
    Actor,
    CommentRequired,
    InvalidTransition,
    SignatureRequired,
    TransitionConditionFailed,
    TransitionNotAllowed,
    WorkflowContextError,
)
from app.meta.workflows import (
    WorkflowDefinitionError,
    load_workflow,
    load_workflow_file,
    load_workflows,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "workflows" / "transfer_approval.yaml"
ROLES = {"warehouse_clerk", "warehouse_manager", "qa", "finance", "regional_manager", "logistics", "admin"}
TASKS = {"reserve_stock", "release_reservation", "notify_approvers", "notify_requester",
         "ship_goods", "receive_remaining"}
SOURCE = "workflows/broken.yaml"

CLERK = Actor(1, "li.clerk", frozenset({"warehouse_clerk"}))
MANAGER = Actor(2, "wang.manager", frozenset({"warehouse_manager"}))
QA = Actor(3, "zhao.qa", frozenset({"qa"}))
FINANCE = Actor(4, "chen.finance", frozenset({"finance"}))
REGIONAL = Actor(5, "liu.regional", frozenset({"regional_manager"}))
LOGISTICS = Actor(6, "sun.logistics", frozenset({"logistics"}))
ADMIN = Actor(7, "admin", frozenset({"admin"}))
ACTORS = [CLERK, MANAGER, QA, FINANCE, REGIONAL, LOGISTICS, ADMIN]


@pytest.fixture(scope="module")
def wf():
    return load_workflow_file(SHIPPED, known_roles=ROLES, known_tasks=TASKS)


def transfer(*classes, total=5_000, from_region="east", to_region="east", owner=CLERK.id):
    """The context a service would build for a transfer order."""
    return {
        "number": "TR-202601-00001",
        "lines": [{"product": f"P{i}", "qty": 1, "risk_class": c} for i, c in enumerate(classes)],
        "total_value": total,
        "from_region": from_region,
        "to_region": to_region,
        "owner": owner,
        "open_exceptions": 0,
        "in_transit": 0,
    }


def run(wf, ctx, *steps, state="draft"):
    """Take (action, actor[, kwargs]) steps; return the states passed through."""
    path = [state]
    for action, actor, *kw in steps:
        state = wf.resolve(state, action, ctx, actor, **(kw[0] if kw else {})).to
        path.append(state)
    return path


SIGNED = {"signature_given": True}


# ─── the shipped file ─────────────────────────────────────────────────────────────────

def test_shipped_workflow_loads_with_bilingual_labels(wf):
    assert wf.entity == "TransferOrder" and wf.initial == "draft" and wf.state_field == "state"
    assert set(wf.states) == {
        "draft", "submitted", "qa_review", "finance_review", "regional_review", "approved",
        "picking", "shipped", "received", "closed", "rejected", "cancelled"}
    assert {n for n, s in wf.states.items() if s.final} == {"closed", "rejected", "cancelled"}
    for thing in [wf, *wf.states.values(), *wf.transitions]:
        assert thing.label("en") and thing.label("zh") and thing.label("en") != thing.label("zh")
    assert wf.label("zh") == "调拨审批"
    assert wf.state_label("shipped", "zh") == "已发运（在途）"
    assert wf.state_label("draft", "fr") == "Draft"     # unknown language falls back to en
    assert {r for t in wf.transitions for r in t.roles} == ROLES


def test_shipped_tasks(wf):
    assert [(t.name, t.mode) for t in wf.on_enter("approved")] == [("reserve_stock", "inline")]
    assert [(t.name, t.mode) for t in wf.on_enter("cancelled")] == [
        ("release_reservation", "inline")]
    assert [(t.name, t.mode) for t in wf.on_enter("qa_review")] == [("notify_approvers", "job")]
    assert wf.on_enter("shipped") == ()


def test_load_workflows_keys_by_entity(tmp_path):
    (tmp_path / "a.yaml").write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    assert list(load_workflows(tmp_path, known_roles=ROLES)) == ["TransferOrder"]
    (tmp_path / "b.yaml").write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(WorkflowDefinitionError) as err:
        load_workflows(tmp_path, known_roles=ROLES)
    assert "b.yaml: entity: TransferOrder already has a workflow in" in str(err.value)


# ─── loader errors: each names the file, the key and the problem ──────────────────────

def minimal() -> dict:
    return {
        "workflow": "mini",
        "entity": "StockCount",
        "label": {"en": "Count approval", "zh": "盘点审批"},
        "initial": "draft",
        "states": {
            "draft": {"label": {"en": "Draft", "zh": "草稿"}},
            "submitted": {"label": {"en": "Submitted", "zh": "已提交"}},
            "done": {"label": {"en": "Done", "zh": "完成"}, "final": True,
                     "on_enter": [{"task": "reserve_stock"}]},
        },
        "transitions": [
            {"action": "submit", "from": "draft", "to": "submitted", "roles": ["warehouse_clerk"],
             "label": {"en": "Submit", "zh": "提交"}},
            {"action": "approve", "from": "submitted", "to": "done",
             "roles": ["warehouse_manager"], "approval": True,
             "label": {"en": "Approve", "zh": "批准"}},
        ],
    }


def load_broken(data, **kw):
    kw.setdefault("known_tasks", TASKS)
    with pytest.raises(WorkflowDefinitionError) as err:
        load_workflow(data, source=SOURCE, known_roles=ROLES, **kw)
    return str(err.value)


def test_minimal_definition_loads():
    wf = load_workflow(minimal(), source=SOURCE, known_roles=ROLES, known_tasks=TASKS)
    assert wf.actions_from("draft") == ["submit"]


def test_error_unknown_state():
    data = minimal()
    data["transitions"][1]["to"] = "dne"
    msg = load_broken(data)
    assert f"{SOURCE}: " in msg and "transitions[1].to: unknown state 'dne'" in msg


def test_error_unknown_from_state_in_list():
    data = minimal()
    data["transitions"][1]["from"] = ["submitted", "sbumitted"]
    assert "transitions[1].from[1]: unknown state 'sbumitted'" in load_broken(data)


def test_error_unreachable_state():
    data = minimal()
    data["states"]["limbo"] = {"label": {"en": "Limbo", "zh": "未定"}, "final": True}
    msg = load_broken(data)
    assert msg == (f"{SOURCE}: states.limbo: unreachable: no transition leads here "
                   "from the initial state 'draft'")


def test_error_unknown_role():
    data = minimal()
    data["transitions"][1]["roles"] = ["warehouse_manager", "director"]
    msg = load_broken(data)
    assert f"{SOURCE}: transitions[1].roles[1]: unknown role 'director'" in msg


def test_error_bad_cel():
    data = minimal()
    data["transitions"][1]["when"] = "total_value >"
    msg = load_broken(data)
    assert f"{SOURCE}: transitions[1].when: invalid CEL 'total_value >'" in msg


def test_error_missing_state_label():
    data = minimal()
    del data["states"]["submitted"]["label"]
    assert load_broken(data) == f"{SOURCE}: states.submitted.label: missing (required)"


def test_error_label_without_chinese():
    data = minimal()
    data["states"]["draft"]["label"] = {"en": "Draft"}
    assert load_broken(data) == f"{SOURCE}: states.draft.label: missing zh text"


def test_error_action_without_label():
    data = minimal()
    del data["transitions"][1]["label"]
    msg = load_broken(data)
    assert f"{SOURCE}: transitions[1].label: missing: give the 'approve' action a label" in msg


def test_error_signature_without_meaning():
    data = minimal()
    data["transitions"][1]["signature"] = True
    msg = load_broken(data)
    assert f"{SOURCE}: transitions[1].meaning: missing: a signature must state its meaning" in msg


def test_error_unknown_signature_meaning():
    data = minimal()
    data["transitions"][1].update(signature=True, meaning="authorship")
    msg = load_broken(data)
    assert "transitions[1].meaning: must be one of: approval, review, responsibility" in msg


def test_error_unknown_task():
    data = minimal()
    data["states"]["done"]["on_enter"] = [{"task": "reserve_stok"}]
    msg = load_broken(data)
    assert f"{SOURCE}: states.done.on_enter[0].task: unknown task 'reserve_stok'" in msg
    # without a task list the check is skipped
    unchecked = load_workflow(data, source=SOURCE, known_roles=ROLES)
    assert unchecked.on_enter("done")[0].name == "reserve_stok"


def test_error_duplicate_state(tmp_path):
    path = tmp_path / "dup.yaml"
    text = yaml.safe_dump(minimal(), allow_unicode=True, sort_keys=False)
    text = text.replace("states:\n", "states:\n  done:\n    label: {en: Again, zh: 再次}\n", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WorkflowDefinitionError) as err:
        load_workflow_file(path, known_roles=ROLES)
    msg = str(err.value)
    assert msg.startswith(f"{path}: states.done: duplicate state 'done' (lines ")


def test_error_no_initial():
    data = minimal()
    del data["initial"]
    assert load_broken(data) == f"{SOURCE}: initial: missing (required)"


def test_error_initial_not_a_state():
    data = minimal()
    data["initial"] = "new"
    assert f"{SOURCE}: initial: unknown state 'new'" in load_broken(data)


def test_error_unknown_key_lists_allowed_keys():
    data = minimal()
    data["transitions"][0]["require_coment"] = True
    msg = load_broken(data)
    assert msg.startswith(f"{SOURCE}: transitions[0].require_coment: unknown key; allowed: ")
    assert "require_comment" in msg


def test_error_transition_never_taken():
    data = minimal()
    data["transitions"].append({"action": "approve", "from": "submitted", "to": "draft",
                                "roles": ["qa"], "when": "true"})
    msg = load_broken(data)
    assert f"{SOURCE}: transitions[2]: never taken: transitions[1]" in msg
    assert "has no condition" in msg


def test_error_dead_end_state():
    data = minimal()
    data["states"]["done"]["final"] = False
    assert load_broken(data) == (f"{SOURCE}: states.done: dead end: no transition leaves "
                                 "this state; add one or mark it 'final: true'")


def test_error_leaving_a_final_state():
    data = minimal()
    data["transitions"].append({"action": "reopen", "from": "done", "to": "draft",
                                "roles": ["admin"], "label": {"en": "Reopen", "zh": "重开"}})
    assert "transitions[2].from: 'done' is final: no transition may leave it" in load_broken(data)


def test_error_self_approval_flag_on_non_approval():
    data = minimal()
    data["transitions"][0]["allow_self_approval"] = True
    assert "transitions[0].allow_self_approval: only applies to approvals" in load_broken(data)


def test_error_bad_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("workflow: x\nstates: [a\n", encoding="utf-8")
    with pytest.raises(WorkflowDefinitionError) as err:
        load_workflow_file(path, known_roles=ROLES)
    assert str(err.value).startswith(f"{path}: (file): not valid YAML (line ")


def test_every_problem_is_reported_at_once():
    data = minimal()
    data["transitions"][0]["to"] = "nowhere"
    data["transitions"][1]["roles"] = ["nobody"]
    err = pytest.raises(WorkflowDefinitionError, load_workflow, data, source=SOURCE,
                        known_roles=ROLES).value
    keys = [key for key, _ in err.problems]
    assert "transitions[0].to" in keys and "transitions[1].roles[0]" in keys
    assert str(err).startswith(f"{SOURCE}: ") and "problems:" in str(err)


# ─── running the shipped transfer approval ────────────────────────────────────────────

def test_class_ii_same_region_needs_one_approval(wf):
    ctx = transfer("II", "II")
    assert [o.action for o in wf.available_actions("draft", ctx, CLERK)] == ["submit", "cancel"]
    path = run(wf, ctx, ("submit", CLERK), ("approve", MANAGER))
    assert path == ["draft", "submitted", "approved"]
    assert run(wf, ctx, ("start_picking", CLERK), ("ship", LOGISTICS), ("receive", CLERK),
               ("close", MANAGER), state="approved") == [
        "approved", "picking", "shipped", "received", "closed"]
    assert wf.available_actions("closed", ctx, MANAGER) == []


def test_class_iii_cross_region_needs_manager_qa_signature_and_regional(wf):
    ctx = transfer("II", "III", from_region="east", to_region="north")
    path = run(wf, ctx, ("submit", CLERK), ("approve", MANAGER), ("approve", QA, SIGNED),
               ("approve", REGIONAL))
    assert path == ["draft", "submitted", "qa_review", "regional_review", "approved"]
    qa_step = wf.resolve("qa_review", "approve", ctx, QA, signature_given=True)
    assert qa_step.signature and qa_step.meaning == "approval"
    [option] = [o for o in wf.available_actions("qa_review", ctx, QA) if o.action == "approve"]
    assert option.signature and option.meaning == "approval" and option.label("zh") == "批准"


def test_finance_threshold(wf):
    at_threshold = transfer("II", total=100_000)
    above = transfer("II", total=100_000.01)
    assert run(wf, at_threshold, ("submit", CLERK), ("approve", MANAGER))[-1] == "approved"
    assert run(wf, above, ("submit", CLERK), ("approve", MANAGER), ("approve", FINANCE)) == [
        "draft", "submitted", "finance_review", "approved"]


def test_all_levels_in_order(wf):
    ctx = transfer("III", total=250_000, from_region="east", to_region="west")
    path = run(wf, ctx, ("submit", CLERK), ("approve", MANAGER), ("approve", QA, SIGNED),
               ("approve", FINANCE), ("approve", REGIONAL))
    assert path == ["draft", "submitted", "qa_review", "finance_review", "regional_review",
                    "approved"]


def test_self_approval_refused(wf):
    ctx = transfer("II", owner=MANAGER.id)
    assert run(wf, ctx, ("submit", MANAGER))[-1] == "submitted"
    assert "approve" not in [o.action for o in wf.available_actions("submitted", ctx, MANAGER)]
    with pytest.raises(TransitionNotAllowed) as err:
        wf.resolve("submitted", "approve", ctx, MANAGER)
    assert err.value.status == 403 and isinstance(err.value, Forbidden)
    assert "wang.manager created this transfer order and may not approve it" in err.value.message
    other = Actor(9, "he.manager", frozenset({"warehouse_manager"}))
    assert wf.resolve("submitted", "approve", ctx, other).to == "approved"


def test_owner_ids_compare_across_types(wf):
    with pytest.raises(TransitionNotAllowed):
        wf.resolve("submitted", "approve", transfer("II", owner="2"), MANAGER)


def test_allow_self_approval_lets_the_creator_approve():
    data = minimal()
    data["transitions"][1]["allow_self_approval"] = True
    wf = load_workflow(data, source=SOURCE, known_roles=ROLES)
    boss = Actor(1, "boss", {"warehouse_clerk", "warehouse_manager"})
    assert run(wf, {"owner": 1}, ("submit", boss), ("approve", boss))[-1] == "done"


def test_wrong_role_is_403(wf):
    ctx = transfer("II")
    with pytest.raises(TransitionNotAllowed) as err:
        wf.resolve("submitted", "approve", ctx, CLERK)
    assert err.value.status == 403
    assert err.value.message == ("Approve (approve) from Submitted needs the role "
                                 "warehouse_manager; li.clerk has warehouse_clerk.")
    # QA may approve at QA review, but not in the manager's place
    with pytest.raises(TransitionNotAllowed):
        wf.resolve("submitted", "approve", transfer("III"), QA, signature_given=True)


def test_admin_is_not_implied(wf):
    ctx = transfer("II")
    with pytest.raises(TransitionNotAllowed):
        wf.resolve("submitted", "approve", ctx, ADMIN)
    assert [o.action for o in wf.available_actions("submitted", ctx, ADMIN)] == []
    # ...but acts where the file lists it
    assert wf.resolve("picking", "cancel", ctx, ADMIN, comment="Duplicate order").to == "cancelled"


def test_skipping_a_state_is_409(wf):
    with pytest.raises(InvalidTransition) as err:
        wf.resolve("submitted", "ship", transfer("II"), LOGISTICS)
    assert err.value.status == 409 and isinstance(err.value, Conflict)
    assert err.value.message == ("Cannot ship the transfer order: it is Submitted (submitted), "
                                 "where the possible actions are: approve, reject, cancel.")
    with pytest.raises(InvalidTransition, match=r"no action is possible \(final state\)"):
        wf.resolve("closed", "cancel", transfer("II"), MANAGER)
    with pytest.raises(InvalidTransition, match="does not declare"):
        wf.resolve("lost", "submit", transfer("II"), CLERK)


def test_condition_failed_is_422_and_explained(wf):
    with pytest.raises(TransitionConditionFailed) as err:
        wf.resolve("draft", "submit", transfer(), CLERK)
    assert err.value.status == 422 and isinstance(err.value, ValidationFailed)
    assert "Add at least one line before submitting. [size(lines) > 0]" in err.value.message
    assert err.value.details["conditions"][0]["message"]["zh"] == "提交前请至少添加一行明细。"
    assert "submit" not in [o.action for o in wf.available_actions("draft", transfer(), CLERK)]


def test_reject_requires_comment(wf):
    ctx = transfer("III")
    for blank in (None, "", "   "):
        with pytest.raises(CommentRequired) as err:
            wf.resolve("qa_review", "reject", ctx, QA, comment=blank)
        assert err.value.status == 422 and "needs a comment" in err.value.message
    step = wf.resolve("qa_review", "reject", ctx, QA, comment="Lot L7 is on hold")
    assert step.to == "rejected" and wf.is_final(step.to)
    [option] = [o for o in wf.available_actions("submitted", ctx, MANAGER) if o.action == "reject"]
    assert option.require_comment and option.as_dict("zh")["label"] == "驳回"


def test_signature_required(wf):
    ctx = transfer("III")
    with pytest.raises(SignatureRequired) as err:
        wf.resolve("qa_review", "approve", ctx, QA)
    assert err.value.status == 422 and err.value.details["meaning"] == "approval"
    assert "electronic signature" in err.value.message


def test_cancelling(wf):
    ctx = transfer("II")
    assert wf.resolve("draft", "cancel", ctx, CLERK).to == "cancelled"
    assert wf.resolve("finance_review", "cancel", ctx, CLERK).to == "cancelled"
    with pytest.raises(TransitionNotAllowed):
        wf.resolve("approved", "cancel", ctx, CLERK)            # reserved stock: managers only
    with pytest.raises(CommentRequired):
        wf.resolve("picking", "cancel", ctx, MANAGER)
    step = wf.resolve("picking", "cancel", ctx, MANAGER, comment="Customer withdrew")
    assert step.to == "cancelled"
    with pytest.raises(InvalidTransition):
        wf.resolve("shipped", "cancel", ctx, MANAGER)           # goods are on the truck
    assert [t.name for t in wf.on_enter("cancelled")] == ["release_reservation"]


def test_context_errors_are_reported_not_hidden(wf):
    ctx = transfer("II")
    del ctx["owner"]
    with pytest.raises(WorkflowContextError, match="must carry 'owner'"):
        wf.resolve("submitted", "approve", ctx, MANAGER)
    ctx = transfer("II")
    del ctx["total_value"]
    with pytest.raises(WorkflowContextError, match=r"approvals\.levels\[0\]\.when could not be"):
        wf.resolve("submitted", "approve", ctx, MANAGER)


def test_route_is_chosen_before_the_role_check():
    """A user cannot take a lighter branch by lacking the role of the heavier one."""
    data = minimal()
    data["transitions"].insert(1, {
        "action": "approve", "from": "submitted", "to": "done", "roles": ["finance"],
        "approval": True, "when": "value > 1000"})
    wf = load_workflow(data, source=SOURCE, known_roles=ROLES)
    big, small = {"value": 5000, "owner": None}, {"value": 10, "owner": None}
    with pytest.raises(TransitionNotAllowed, match="at this point it needs the role finance"):
        wf.resolve("submitted", "approve", big, MANAGER)
    assert wf.resolve("submitted", "approve", big, FINANCE).index == 1
    assert wf.resolve("submitted", "approve", small, MANAGER).index == 2
    with pytest.raises(TransitionNotAllowed):
        wf.resolve("submitted", "approve", small, FINANCE)


# ─── a new approval level is data, not code ───────────────────────────────────────────

def test_adding_a_director_level_changes_behaviour_without_code(tmp_path, wf):
    """A level is one entry in the approval chain: every route passes through it."""
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    data["states"]["director_review"] = {
        "label": {"en": "Director approval", "zh": "总监审批"},
        "on_enter": [{"task": "notify_approvers", "mode": "job"}]}
    data["approvals"]["levels"].append(
        {"state": "director_review", "roles": ["director"], "when": "total_value > 500000"})
    path = tmp_path / "transfer_approval.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")

    with pytest.raises(WorkflowDefinitionError, match="unknown role 'director'"):
        load_workflow_file(path, known_roles=ROLES, known_tasks=TASKS)
    custom = load_workflow_file(path, known_roles=ROLES | {"director"}, known_tasks=TASKS)

    director = Actor(10, "zhou.director", frozenset({"director"}))
    ctx = transfer("II", total=600_000)
    steps = [("submit", CLERK), ("approve", MANAGER), ("approve", FINANCE)]
    assert run(wf, ctx, *steps)[-1] == "approved"
    assert run(custom, ctx, *steps, ("approve", director)) == [
        "draft", "submitted", "finance_review", "director_review", "approved"]
    # class III and cross-region transfers pass through the new level too
    heavy = transfer("III", total=600_000, from_region="east", to_region="west")
    assert run(custom, heavy, ("submit", CLERK), ("approve", MANAGER), ("approve", QA, SIGNED),
               ("approve", FINANCE), ("approve", REGIONAL), ("approve", director)) == [
        "draft", "submitted", "qa_review", "finance_review", "regional_review",
        "director_review", "approved"]
    # below the director's threshold nothing changes
    small = transfer("II", total=200_000)
    assert run(custom, small, *steps) == run(wf, small, *steps)


# ─── properties ───────────────────────────────────────────────────────────────────────

ACTION_NAMES = ["submit", "approve", "reject", "start_picking", "ship", "receive", "close",
                "cancel", "reopen"]
PEOPLE = ACTORS + [Actor(11, "multi", frozenset({"warehouse_clerk", "warehouse_manager", "qa"}))]

contexts = st.builds(
    lambda classes, total, regions, owner: transfer(
        *classes, total=total, from_region=regions[0], to_region=regions[1], owner=owner),
    st.lists(st.sampled_from(["I", "II", "III"]), max_size=4),
    st.one_of(st.sampled_from([5_000, 100_000, 100_000.5]), st.integers(0, 300_000),
              st.floats(0, 300_000, allow_nan=False)),
    st.sampled_from([("east", "west"), ("east", "east"), ("west", "east")]),
    st.sampled_from([None, *[p.id for p in PEOPLE]]),
)


@settings(max_examples=200, deadline=None)
@given(ctx=contexts, data=st.data())
def test_state_only_moves_along_declared_transitions(wf, ctx, data):
    """Random requests by random people. Draws favour a person who has something to do and
    an action they are offered, so runs get through the approvals to the end; the rest
    are arbitrary requests, mostly refused."""
    declared = {(s, t.action, t.to) for t in wf.transitions for s in t.from_states}
    state = wf.initial
    for _ in range(data.draw(st.integers(0, 40), label="steps")):
        people = st.sampled_from(PEOPLE)
        busy = [p for p in PEOPLE if wf.available_actions(state, ctx, p)]
        if busy:
            people = st.one_of(st.sampled_from(busy), people)
        actor = data.draw(people, label="actor")
        offered = {o.action: o.to for o in wf.available_actions(state, ctx, actor)}
        choices = st.sampled_from(ACTION_NAMES)
        if offered:   # the first offered action is the way forward; cancel and reject come last
            choices = st.one_of(st.just(next(iter(offered))), st.sampled_from(sorted(offered)),
                                choices)
        action = data.draw(choices, label="action")
        comment = data.draw(st.sampled_from(["ok", None, " "]), label="comment")
        signed = data.draw(st.booleans(), label="signed")
        try:
            new = wf.resolve(state, action, ctx, actor, comment=comment,
                             signature_given=signed).to
        except (Forbidden, Conflict, ValidationFailed):
            new = state
            # an offered action is refused only for a missing comment or signature
            if action in offered:
                with pytest.raises((CommentRequired, SignatureRequired)):
                    wf.resolve(state, action, ctx, actor, comment=comment, signature_given=signed)
                wf.resolve(state, action, ctx, actor, comment="ok", signature_given=True)
        else:
            assert (state, action, new) in declared
            assert offered.get(action) == new       # what is offered is what is taken
        assert new in wf.states
        state = new
