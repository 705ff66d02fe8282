/** Typed search attribute keys (Keyword), registered on the server by `make start` and the test harness. */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { SearchAttr } from '../domain/run';

export const RunIdKey = defineSearchAttributeKey(SearchAttr.RunId, SearchAttributeType.KEYWORD);
export const WorkspaceKey = defineSearchAttributeKey(SearchAttr.Workspace, SearchAttributeType.KEYWORD);
export const ComputeEnvKey = defineSearchAttributeKey(SearchAttr.ComputeEnv, SearchAttributeType.KEYWORD);
export const PlatformKey = defineSearchAttributeKey(SearchAttr.Platform, SearchAttributeType.KEYWORD);
export const PhaseKey = defineSearchAttributeKey(SearchAttr.Phase, SearchAttributeType.KEYWORD);
