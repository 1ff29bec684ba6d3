"""The whole release: deploy the new version to the idle colour, wait for it, test it.

Pure parts (tested without I/O):

- ``spec``: ``--image [CONTAINER=]IMAGE`` and ``deploy:`` into a strategic-merge patch of
  the idle Deployment (pod template, replicas, resourceVersion precondition);
- ``template``: whether two colours' pod templates are the same release;
- ``readiness``: ``kubectl rollout status``'s judgement of a Deployment;
- ``commands``: the ``pre_traffic`` commands' argv, environment and output tail;
- ``preview``: the JSON patches of a header preview route per router.

``flow.Release`` is the thin I/O around them, called by ``shifter.rollout`` before the
first weight moves.
"""
