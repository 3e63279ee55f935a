// Modules the bench page imports that carry no types of their own.
declare module 'parcoord-es';
declare module '*.css' {
  const text: string;
  export default text;
}
