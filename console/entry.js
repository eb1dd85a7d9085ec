// What the staff console (chalicelib/static/console.js) uses of amazon-cognito-identity-js:
// SRP sign-in with its challenges, TOTP set-up, refresh and sign-out. Bundled as the global
// `IlopisteCognito` by build.mjs.
export {
  AuthenticationDetails,
  CognitoRefreshToken,
  CognitoUser,
  CognitoUserPool,
} from "amazon-cognito-identity-js";
