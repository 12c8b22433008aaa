-- Argo CD health check for migrations.gremlins.ai/DataMigration.
-- Installed as resource.customizations.health.migrations.gremlins.ai_DataMigration (argocd-cm.yaml
-- beside this file embeds this script; tests/unit/gitops checks both, with lupa).
--
--   no status yet, or status.observedGeneration < metadata.generation   Progressing
--   state Pending | Running                                              Progressing
--   state Succeeded                                                      Healthy
--   state Failed                                                         Degraded
--   state Blocked by a phase gate (the Ready condition's reason is one   Suspended
--     of MigrationRequired, DualWriteRequired, ValidationRequired,
--     ValidationStale, OutboxNotDrained): spec.phase asked for a step
--     whose prerequisite is not met; nothing changed, and it proceeds
--     once the gate opens (or a commit moves spec.phase back)
--   state Blocked by anything else (a missing ConfigMap, Secret, claim   Degraded
--     or workload, a ConfigMap another migration owns, a Job image or
--     ServiceAccount not allowed, a switch whose validation failed or
--     proves nothing): needs a fix
local GATES = {
  MigrationRequired = true,
  DualWriteRequired = true,
  ValidationRequired = true,
  ValidationStale = true,
  OutboxNotDrained = true,
}

local function ready_condition(status)
  if status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" then
      return condition
    end
  end
  return nil
end

local hs = {}
local status = obj.status
local phase = (obj.spec and obj.spec.phase) or "?"
if status == nil or status.state == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile phase " .. phase
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe phase " .. phase
  return hs
end

local state = status.state
local message = phase .. ": " .. state
if status.message ~= nil and status.message ~= "" then
  message = message .. ": " .. status.message
end
hs.message = message
if state == "Succeeded" then
  hs.status = "Healthy"
elseif state == "Failed" then
  hs.status = "Degraded"
elseif state == "Blocked" then
  local ready = ready_condition(status)
  if ready ~= nil and GATES[ready.reason] then
    hs.status = "Suspended"
  else
    hs.status = "Degraded"
  end
elseif state == "Pending" or state == "Running" then
  hs.status = "Progressing"
else
  hs.status = "Unknown"
end
return hs
