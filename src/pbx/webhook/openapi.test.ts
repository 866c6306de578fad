import { describe, expect, it } from 'vitest';
import {
  commandSchema,
  componentNameOf,
  eventTypes,
  parseCommandAck,
  parseEvents,
  parseRouteRequest,
  pbxApiErrorCodes,
  pbxOpenApiDocument,
  routeResponseSchema,
} from './index.ts';

type Node = Record<string, unknown>;
const doc = pbxOpenApiDocument({ serverUrl: 'https://bridge.example.com' }) as Node;
const schemas = (doc.components as Node).schemas as Record<string, Node>;
const paths = doc.paths as Record<string, Node>;

/** A component's own examples (whole bodies). */
function examplesOf(node: Node | undefined): unknown[] {
  return Array.isArray(node?.examples) ? (node.examples as unknown[]) : [];
}

/** Bodies made from the component's first example with one property set to one of its own examples. */
function fieldExamplesOf(node: Node | undefined): unknown[] {
  const [base] = examplesOf(node);
  const properties = (node?.properties ?? {}) as Record<string, Node>;
  return Object.entries(properties).flatMap(([key, property]) =>
    examplesOf(property).map((example) => ({ ...(base as Node), [key]: example })),
  );
}

const allExamplesOf = (node: Node | undefined) => [...examplesOf(node), ...fieldExamplesOf(node)];

describe('the OpenAPI document of /pbx/v1', () => {
  it('is OpenAPI 3.1, JSON all the way, with the public paths', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
    expect(Object.keys(paths).sort()).toEqual([
      '/pbx/v1/commands',
      '/pbx/v1/commands/{commandId}/ack',
      '/pbx/v1/events',
      '/pbx/v1/openapi.json',
      '/pbx/v1/route',
    ]);
  });

  it('lists exactly the event types the parser knows, each under its discriminator', () => {
    const pbxEvent = schemas.PbxEvent!;
    const mapping = (pbxEvent.discriminator as { mapping: Record<string, string> }).mapping;
    expect(Object.keys(mapping).sort()).toEqual([...eventTypes].sort());
    const refs = (pbxEvent.oneOf as { $ref: string }[]).map((r) => r.$ref).sort();
    expect(refs).toEqual(Object.values(mapping).sort());
    for (const type of eventTypes) {
      const component = schemas[componentNameOf(type)]!;
      expect((component.properties as Record<string, Node>).type).toMatchObject({ const: type });
      expect(mapping[type]).toBe(`#/components/schemas/${componentNameOf(type)}`);
    }
    // And no event component the parser does not know.
    const eventComponents = Object.keys(schemas).filter((name) => /^(Call|Recording)/.test(name));
    expect(eventComponents.sort()).toEqual(eventTypes.map(componentNameOf).sort());
  });

  it('has examples that the parsers accept', () => {
    for (const type of eventTypes) {
      const component = schemas[componentNameOf(type)];
      expect(examplesOf(component).length, type).toBeGreaterThan(0);
      const examples = allExamplesOf(component);
      for (const example of examples) expect(parseEvents(example).ok, JSON.stringify(example)).toBe(true);
    }
    const body = ((paths['/pbx/v1/events']!.post as Node).requestBody as Node).content as Record<
      string,
      Node
    >;
    const named = body['application/json']!.examples as Record<string, { value: unknown }>;
    for (const { value } of Object.values(named)) expect(parseEvents(value).ok).toBe(true);

    for (const example of allExamplesOf(schemas.RouteRequest))
      expect(parseRouteRequest(example).ok).toBe(true);
    for (const example of allExamplesOf(schemas.RouteResponse))
      expect(routeResponseSchema.safeParse(example).success).toBe(true);
    for (const example of allExamplesOf(schemas.PbxCommand))
      expect(commandSchema.safeParse(example).success).toBe(true);
    for (const example of allExamplesOf(schemas.CommandAck)) expect(parseCommandAck(example).ok).toBe(true);
  });

  it('documents every error code', () => {
    const error = (schemas.Error!.properties as Record<string, Node>).error!;
    expect((error.properties as Record<string, Node>).code!.enum).toEqual([...pbxApiErrorCodes]);
    const example = examplesOf(schemas.Error)[0] as { error: { message: string } };
    const refusal = parseEvents([{ type: 'call.ended' }]);
    expect(refusal.ok ? null : refusal.error.message).toBe(example.error.message);
  });

  it('describes the fields of the schemas it was generated from', () => {
    const started = schemas.CallStarted!;
    expect(started.required).toEqual(expect.arrayContaining(['type', 'callId', 'direction', 'from', 'to']));
    expect(started.required).not.toContain('at');
    const recording = schemas.RecordingReady!.properties as Record<string, Node>;
    expect(Object.keys(recording).sort()).toEqual([
      'at',
      'callId',
      'contentBase64',
      'filename',
      'type',
      'url',
    ]);
  });
});
