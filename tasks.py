"""Invoke entry point: assembles the task collections; the logic lives in voiceops/."""

from invoke import Collection

from voiceops.tasks import (
    deploy,
    dr,
    env,
    gitops,
    local,
    operations,
    render,
    runbooks,
    secrets,
    smoke,
    tf,
    tools,
    wiring,
)

namespace = Collection()
namespace.add_collection(Collection.from_module(env))
namespace.add_collection(Collection.from_module(tools))
namespace.add_collection(Collection.from_module(local))
namespace.add_task(deploy.deploy)
namespace.add_task(operations.status)
namespace.add_task(operations.rollback)
namespace.add_task(smoke.smoke)
namespace.add_task(render.render_, name="render")
namespace.add_task(wiring.wiring_, name="wiring")
charts = Collection("charts")
charts.add_task(render.pull)
charts.add_task(render.schemas)
charts.add_task(render.lint)
charts.add_task(render.scan)
namespace.add_collection(charts)
namespace.add_collection(Collection.from_module(tf))
namespace.add_collection(Collection.from_module(gitops))
namespace.add_collection(Collection.from_module(secrets))
namespace.add_collection(Collection.from_module(runbooks))
namespace.add_collection(Collection.from_module(dr))
namespace.configure({"run": {"echo": False}})
