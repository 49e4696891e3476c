// Starts Swagger UI on /api/docs. A file, not an inline script: the pages' CSP forbids those.
//
// The vendored Swagger UI (the swagger-ui-bundle package, 4.15) reads OpenAPI 3.0 and refuses
// the 3.1 that FastAPI writes. The two differ, for what this page shows, mostly in how an
// optional value is spelled (`anyOf: [..., {type: "null"}]` instead of `nullable`), which 4.15
// displays as an anyOf. So the page loads the document itself and hands Swagger UI a copy
// labelled 3.0.3; /api/openapi.json itself stays 3.1.
const root = document.getElementById("swagger-ui");

async function start() {
  const res = await fetch(root.dataset.openapiUrl);
  const spec = await res.json();
  spec.openapi = "3.0.3";
  window.ui = SwaggerUIBundle({
    spec,
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
}

start().catch((err) => { root.textContent = `could not load the API description: ${err}`; });
