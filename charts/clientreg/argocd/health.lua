-- Argo CD health check for clientreg objects: OAuthClient, AuthorizationServer
-- and ClusterAuthorizationServer (group oauth.clientreg.dev). Install it in
-- argocd-cm as resource.customizations.health.oauth.clientreg.dev_<Kind>
-- (argocd-cm-patch.yaml in this directory does it for the three kinds).
--
--   Healthy      Ready=True for the current generation
--   Degraded     Stalled=True: only a change by a person helps (invalid spec or
--                metadata, a refused registration, a registration to recover,
--                a foreign Secret in the way, a blocked deletion)
--   Progressing  no status yet, the generation not observed yet, or Ready
--                missing, Unknown, or False without Stalled (the operator sets
--                Reconciling=True then: waiting for a server, retrying)
local hs = {}

local function find(conditions, condType)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == condType then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c == nil then
    return fallback
  end
  local reason = c.reason or ""
  local message = c.message or ""
  if reason ~= "" and message ~= "" then
    return reason .. ": " .. message
  end
  if message ~= "" then
    return message
  end
  if reason ~= "" then
    return reason
  end
  return fallback
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local conditions = obj.status.conditions
local stalled = find(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "Stalled")
  return hs
end

local ready = find(conditions, "Ready")
if ready == nil then
  hs.status = "Progressing"
  hs.message = describe(find(conditions, "Reconciling"), "Waiting for the Ready condition")
  return hs
end
if generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition of generation " .. tostring(generation)
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready, "Waiting for the Ready condition")
return hs
